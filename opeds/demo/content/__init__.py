"""Text of the demo's sample op-eds and news briefs.

All of it is written for this project: fictional columns under fictional bylines (the seed case's
byline excepted), about real-world themes. Nothing here is copied from any publication.
"""

from opeds.demo.content.briefs import BRIEFS
from opeds.demo.content.essays import ESSAYS, Essay

__all__ = ["BRIEFS", "ESSAYS", "Essay"]
