"""Recognise the paragraphs that are not the article: what a page or a syndicator wraps around it.

The rules look at the shape of a paragraph (length, position in the body, a short label followed by
a list, a sentence about the author or the publication) and at small vocabularies in English and
German, not at the exact phrasings of any one outlet. Everything here works on plain text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# Kinds of removed paragraph. ATTRIBUTION and STANDFIRST carry evidence of republication.
TITLE = "title"
RELATED = "related"
TAGS = "tags"
SHARE = "share"
PROMO = "promo"
DISCLAIMER = "disclaimer"
BIO = "bio"
ATTRIBUTION = "attribution"
STANDFIRST = "standfirst"
MASTHEAD = "masthead"

HEAD_WINDOW = 3  # paragraphs at the start of a body where standfirsts and attribution lines sit
TAIL_WINDOW = 6  # paragraphs at the end where bios, disclaimers, attribution and tags sit

_WORD = re.compile(r"\w+", re.UNICODE)
_FLAGS = re.IGNORECASE | re.UNICODE


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def normalize(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form for comparing headlines."""
    folded = text.casefold()
    if not folded.isascii():
        folded = "".join(
            c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
        )
    return " ".join(_WORD.findall(folded))


# --- vocabularies --------------------------------------------------------------------------------

_RELATED_LABEL = re.compile(
    r"^(?:\W*)(?:(?:also|further|more|recommended|suggested|related|recent|latest|popular|trending|"
    r"similar|previous|next|top|editor'?s?|our)\s+)?"
    r"(?:read|see|watch|listen|related|recommended|more|also|don'?t miss|must read|"
    r"in case you missed it|"
    r"further reading|related (?:story|stories|article|articles|content|reading|coverage|links?|"
    r"news)|"
    r"read (?:also|more|next|this|on|the latest|further)|see also|also read|also see|"
    r"also on\s+[\w.\-]+|"
    r"more (?:on this|about this|from|stories|news|on)|"
    r"lesen sie (?:auch|mehr|hier|weiter)|lies auch|auch lesenswert|auch interessant|"
    r"mehr zum thema|mehr dazu|"
    r"zum thema|siehe auch|weiterlesen|zum weiterlesen|weitere artikel|empfehlungen?|"
    r"empfohlen\w*(?: artikel)?|passend dazu|dazu passend|you (?:may|might) also like|"
    r"das könnte sie "
    r"(?:auch )?interessieren|ebenfalls interessant|hintergrund|lesetipps?|"
    r"lese-?empfehlung(?:en)?|tipp der redaktion|auch spannend|more reading|keep reading|"
    r"related reading|trending now|most read|what to read next|hintergrund|leggi anche|lire aussi|"
    r"à lire aussi|"
    r"voir aussi|leia também|lea también|ver también|relacionad[oa]s?)"
    r"(?:\s+\w+){0,2}\s*(?::|»|>>|›|\||–|—|-)",
    _FLAGS,
)
_RELATED_ALONE = re.compile(
    r"^\W*(?:read (?:also|more|next)|related(?: (?:stories|articles|content|coverage|news|links))?|"
    r"see also|also read|don'?t miss|more (?:stories|news|on this)|recommended(?: for you)?|"
    r"lesen sie auch|mehr zum thema|siehe auch|das könnte sie (?:auch )?interessieren|"
    r"auch interessant|"
    r"weitere artikel|leggi anche|lire aussi|à lire aussi|leia também)\W*$",
    _FLAGS,
)
_TAG_LABEL = re.compile(
    r"^\W*(?:[\w'’\-]+\s+){0,4}?(?:tags?|tagged(?: with| as)?|"
    r"keywords?|key ?words|helpful keywords|related keywords|"
    r"topics?|related topics|filed under|categor(?:y|ies)|subjects?|themes?|labels?|"
    r"schlagw(?:ö|oe)rter|schlagworte?|stichw(?:ö|oe)rter|stichworte?|themen|thema|kategorien?|"
    r"mehr zu|mots[- ]cl(?:é|e)s|palavras[- ]chave|etiquetas|argomenti)"
    r"(?:\s+\w+){0,1}\s*[:：]",
    _FLAGS,
)
_SOCIAL = re.compile(
    r"\b(?:facebook|twitter|linkedin|whatsapp|pinterest|reddit|e-?mail|xing|telegram|flipboard|"
    r"messenger|tumblr|mastodon|bluesky|threads|print|drucken|teilen|share|tweet|copy link|"
    r"link kopieren)\b",
    _FLAGS,
)
_SHARE_START = re.compile(
    r"^\W*(?:share|teilen|tweet|pin it|email this|e-mail this|diesen artikel teilen|artikel teilen|"
    r"like this (?:story|article)|enjoyed this|gefällt ihnen)\b",
    _FLAGS,
)
_PROMO = re.compile(
    r"\b(?:subscribe|sign up|sign-up|newsletter|get the latest|delivered (?:to|right to|"
    r"through) your|"
    r"in your inbox|download (?:our|the) app|follow us|abonnieren|jetzt anmelden|melden sie sich|"
    r"unterstützen sie|support (?:our|independent) journalism|become a (?:member|subscriber))\b",
    _FLAGS,
)

# The article was published elsewhere first: "originally appeared in", "zuerst erschienen".
_SENTENCE_START = r"(?:^|[.!?]\s+)\W*"
_SELF_EN = (
    r"(?:(?:this|the|a|an|our|that|which|it)\s+(?:\w+\s+){0,3}?(?:article|piece|story|column|"
    r"op-?ed|essay|post|commentary|text|report|interview|analysis|opinion|editorial|version|"
    r"content|blog post|item|letter|feature)\s+|it\s+)"
)
_SELF_DE = (
    r"(?:(?:dieser|der|dieses|das|diese|die|unser|ein|eine)\s+(?:\w+\s+){0,3}?(?:artikel|beitrag|"
    r"text|kommentar|gastbeitrag|gastkommentar|essay|interview|kolumne|analyse|bericht|"
    r"meinungsbeitrag|stück|version|fassung)\s+)"
)
_ATTRIBUTION = [
    re.compile(p, _FLAGS)
    for p in (
        # "This piece was originally published in X", "First appeared in X", "It ran first in X"
        _SENTENCE_START + _SELF_EN + r"?(?:(?:was|is|has been|had been|were)\s+)?"
        r"(?:originally|first|initially|previously|earlier|also)\s+(?:\w+\s+){0,2}?"
        r"(?:published|appeared|ran|posted|printed|aired|syndicated|featured|carried|written)\b",
        _SENTENCE_START + _SELF_EN + r"(?:(?:was|is|has been|had been)\s+)?(?:\w+\s+){0,2}?"
        r"(?:published|appeared|appears|ran|posted|printed|syndicated|republished|reprinted|"
        r"reproduced|shared|adapted|excerpted)\b",
        _SENTENCE_START + _SELF_EN + r"?(?:(?:was|is|has been)\s+)?(?:re-?published|reprinted|"
        r"reproduced|re-?posted|cross-?posted|syndicated|adapted|excerpted|used)\b"
        r"(?:\s+\w+){0,6}?\s+(?:with|by|from|courtesy|under|as part|through|via|permission)\b",
        r"\b(?:with|by)\s+(?:the\s+)?(?:kind\s+)?permission\s+(?:of|from)\b",
        r"^\W*courtesy of\b",
        r"^\W*(?:source|sources|via|credit|originally|original|reprinted|republished|syndicated|"
        r"from)\s*[:：]",
        r"\b(?:continue|keep|read|finish)\s+(?:\w+\s+){0,3}?reading\b.{0,40}\b(?:at|on|in)\b",
        r"\bread the (?:full|original|whole|rest of the|complete|entire)\b",
        # German
        _SENTENCE_START + _SELF_DE + r"?(?:(?:ist|wurde|war)\s+)?(?:\w+\s+){0,4}?"
        r"(?:zuerst|erstmals|ursprünglich|zunächst|bereits|im original)\b.{0,60}?"
        r"\b(?:erschienen|erschien|veröffentlicht|publiziert|abgedruckt|gedruckt)\b",
        _SENTENCE_START + _SELF_DE + r"(?:\w+\s+){0,1}?(?:erschien|ist .{0,40}erschienen|"
        r"wurde .{0,60}(?:veröffentlicht|übernommen)|stammt)\b",
        _SENTENCE_START + r"(?:erschienen|veröffentlicht|publiziert)\b.{0,50}?"
        r"\b(?:zuerst|erstmals|ursprünglich|zunächst|im original|in der originalfassung)\b",
        r"\bmit (?:der\s+)?(?:freundlicher|ausdrücklicher|\w+\s+)?(?:genehmigung|erlaubnis)\b",
        r"\bzur verfügung gestellt\b",
        r"^\W*(?:zuerst\s+|erstmals\s+|ursprünglich\s+)?(?:erschienen|veröffentlicht|publiziert)\s+"
        r"(?:in|bei|auf|im|unter)\b",
        r"^\W*(?:nachdruck|zweitveröffentlichung|erstveröffentlichung|übernahme|übernommen)\b",
        r"^\W*(?:quelle|quellen|erstveröffentlichung|original)\s*[:：]",
        r"\b(?:weiterlesen|den ganzen (?:artikel|text|beitrag) lesen|lesen sie (?:den|das) "
        r"(?:ganzen|ganze|vollständigen|vollständige|ganz))\b.{0,40}\b(?:bei|auf|in|unter)\b",
        r"\b(?:vollständigen|ganzen|kompletten|gesamten)\s+(?:artikel|text|beitrag)\b.{0,40}"
        r"\b(?:bei|auf|unter)\b",
    )
]

# A dek naming the author and an outlet: "X, writing in Y:", "In an op-ed to Y, X writes that ...".
_STANDFIRST = [
    re.compile(p, _FLAGS)
    for p in (
        r"\bwriting (?:in|for|at|on|to)\b",
        r"\b(?:in|for|to)\s+(?:an?|his|her|their|the|one)\s+(?:\w+\s+){0,2}?(?:op-?ed|opinion|"
        r"column|"
        r"commentary|essay|editorial|guest (?:post|essay|column|article|piece)|article|piece|post|"
        r"analysis|blog post|letter)\b.{0,60}\b(?:for|to|in|at|by|published)\b",
        r"\b(?:op-?ed|opinion piece|opinion article|guest column|guest essay|commentary|"
        r"column)\b.{0,40}"
        r"\b(?:first|originally|published|appeared|for|in|to|by)\b",
        # "X argues in The Atlantic that ...", "X schreibt in der Zeit:"
        r"(?-i:\b(?i:writes|wrote|argues|argued|says|said|notes|warns|contends|explains|reports|"
        r"opines|observes|maintains|"
        r"schreibt|argumentiert|meint|warnt|erklärt|kommentiert)\s+(?i:in|for|im|in der|für die|"
        r"für den)"
        r"\s+(?:the\s+)?(?:[A-Z][\w'’.\-]*|[a-z][\w\-]*\.[a-z]{2,}))",
        # "..., writes Asharq Al-Awsat." (case matters: the outlet is capitalised or a domain)
        r"(?-i:\b(?i:writes|wrote|reports|reported|argues|argued)\s+(?i:for\s+|in\s+|at\s+)?"
        r"(?:the\s+)?(?:[A-Z][\w'’.\-]*|[a-z][\w\-]*\.[a-z]{2,})(?:\s+[A-Z][\w'’.\-]*){0,5}"
        r"\s*[.!]?\s*$)",
        r"^\W*(?:via|from|aus|von|bei|quelle|source|courtesy of|republished from|übernommen von)"
        r"\s+[^:：!?]{2,40}?[:：]\s+\S",
        # German
        r"\bschreib(?:t|en|end)\s+(?:in|für|bei|im|auf)\b",
        r"\bin\s+(?:einem|seinem|ihrem|dem|der|einer|seiner|"
        r"ihrer)\s+(?:\w+\s+){0,2}?(?:gastbeitrag|"
        r"gastkommentar|kommentar|beitrag|artikel|meinungsbeitrag|essay|namensbeitrag|kolumne|"
        r"analyse|"
        r"text|standpunkt)\b.{0,60}\b(?:für|in|im|bei|auf|der|die|das)\b",
        r"\b(?:gastbeitrag|gastkommentar|meinungsbeitrag|kommentar|kolumne)\b.{0,40}"
        r"\b(?:zuerst|erstmals|erschienen|veröffentlicht|für|in|im|bei)\b",
        r"(?-i:\b(?i:schreibt|berichtet|kommentiert)\s+(?:die\s+|der\s+|das\s+)?"
        r"(?:[A-Z][\w'’.\-]*|[a-z][\w\-]*\.[a-z]{2,})(?:\s+[A-Z][\w'’.\-]*){0,5}\s*[.!]?\s*$)",
    )
]

_BIO = [
    re.compile(p, _FLAGS)
    for p in (
        r"^\W*(?:about the (?:author|writer|authors)|the author|zur person|über (?:den|"
        r"die) (?:autor|autorin|"
        r"autoren|"
        r"verfasser|verfasserin)|zum autor|zur autorin|zu den autoren|die autorin|der autor)\b",
        r"^\s*[—–―]\s*(?![^@]*\(@)\S",
        r"\b(?:writes|blogs|reports)\s+(?:for|at|about|regularly)\b",
        r"\b(?:is|was|serves as|works as)\s+(?:an?|the|one of the)\s+(?:[\w\-]+\s+){0,5}?"
        r"(?:columnist|"
        r"writer|journalist|editor|correspondent|contributor|fellow|professor|author|analyst|"
        r"reporter|"
        r"researcher|director|founder|co-founder|ceo|chair|chairman|lecturer|scholar|commentator|"
        r"economist|historian|novelist|blogger|host|producer|expert|consultant|member|head|"
        r"president|"
        r"partner|lawyer|attorney|student|candidate|scientist|diplomat|advisor|adviser|minister|"
        r"ambassador|officer|strategist|executive|manager)\b",
        r"\b(?:can|may) be (?:reached|contacted|emailed|followed)\b",
        r"^\W*(?-i:[A-Z][\w'’\-]+(?:\s+[A-Z][\w'’.\-]+){1,3})\s+(?:teaches|lectures|heads|leads|"
        r"directs|runs|covers|chairs|founded|co-founded|lehrt|leitet|unterrichtet|forscht|gründete|"
        r"berät)\b",
        r"\bfollow (?:him|her|them|the author)\b",
        r"\bis (?:the )?author of\b",
        # German
        r"\bschreibt\s+(?:für|regelmäßig|über|als)\b",
        r"\b(?:ist|war|arbeitet als)\s+(?:[\w\-]+\s+){0,5}?(?:kolumnist|kolumnistin|autor|autorin|"
        r"journalist|"
        r"journalistin|redakteur|redakteurin|korrespondent|korrespondentin|professor|professorin|"
        r"publizist|publizistin|chefredakteur|chefredakteurin|herausgeber|herausgeberin|"
        r"politikwissenschaftler|politikwissenschaftlerin|historiker|historikerin|ökonom|ökonomin|"
        r"direktor|direktorin|leiter|leiterin|mitarbeiter|mitarbeiterin|gründer|gründerin|"
        r"vorsitzender|vorsitzende|wissenschaftler|wissenschaftlerin|analyst|analystin|berater|"
        r"beraterin)\b",
    )
]

_DISCLAIMER_SUBJECT = re.compile(
    r"\b(?:author|authors|author'?s|writer|writers|contributor|contributors|columnist|columnists|"
    r"autor|autors|autorin|autoren|verfasser|verfasserin|gastautor\w*|gastbeitr\w*|"
    r"guest (?:posts?|authors?|contributors?|columns?|columnists?))\b",
    _FLAGS,
)
_DISCLAIMER_CLAIM = re.compile(
    r"\b(?:views?|opinions?|responsibility|responsible|verified|verify|endorse|endorsement|"
    r"content|inhalt|inhalte|solely|entirely|allein|ausschließlich|"
    r"necessarily|reflect|reflects|editorial (?:policy|line|position|stance)|perspectives|"
    r"meinung|meinungen|ansicht|ansichten|verantwortung|verantwortlich|geprüft|überprüft|"
    r"notwendigerweise|zwangsläufig|zwingend|unbedingt|own|eigenen?|wieder(?:gibt|geben)?|"
    r"redaktion|"
    r"standpunkt)\b",
    _FLAGS,
)
_DISCLAIMER_STRONG = re.compile(
    r"\b(?:has|have) not (?:verified|checked|fact-?checked)\b|"
    r"\bdo(?:es)? not necessarily (?:reflect|"
    r"represent)\b|\b(?:views|opinions) expressed\b|\blies (?:entirely|solely|exclusively) with\b|"
    r"\bgibt nicht (?:unbedingt |notwendigerweise |zwangsläufig )?die meinung\b|"
    r"\b(?:gibt|geben|spiegelt|spiegeln)\s+nicht\s+(?:\w+\s+){0,2}die\s+(?:meinung|ansicht|"
    r"position|haltung)|"
    r"\b(?:liegt|liegen) (?:allein|ausschließlich|vollständig|einzig) (?:bei|beim)\b|"
    r"\bnicht (?:überprüft|"
    r"geprüft)\b",
    _FLAGS,
)


# --- paragraph classifiers -----------------------------------------------------------------------


_LABELLED = re.compile(r"^\W*(?:[\w'’\-]+\s+){0,3}[\w'’\-]+\s*[:：»›|]\s*\S")


def is_related_line(text: str) -> bool:
    """A "Read also: <other headline>" line, or such a label on its own line."""
    n = len(words(text))
    if n <= 6 and _RELATED_ALONE.match(text):
        return True
    m = _RELATED_LABEL.match(text)
    return n <= 40 and m is not None and len(words(text[m.end() :])) >= 3


def is_tag_block(text: str, *, last: bool) -> bool:
    """ "Tags: a, b, c": a short label followed by a list of short items and no sentence."""
    n = len(words(text))
    if n > 60:
        return False
    if _TAG_LABEL.match(text):
        rest = text.split(":", 1)[1] if ":" in text else text.split("：", 1)[-1]
        items = [i for i in re.split(r"[,;|•·/]| - ", rest) if i.strip()]
        return all(len(words(i)) <= 6 for i in items) and not rest.rstrip().endswith(".")
    if not last:
        return False
    m = re.match(r"^\s*([^\W\d][\w'’\-]*(?:\s+[\w'’\-]+)?)\s*[:：]\s*(.+)$", text)
    if not m:
        return False
    items = [i.strip() for i in re.split(r"[,;|•·]", m.group(2)) if i.strip()]
    return (
        len(items) >= 3
        and all(1 <= len(words(i)) <= 3 for i in items)
        and not any(ch.isdigit() for ch in m.group(2))
        and not m.group(2).rstrip().endswith(".")
    )


def is_share_widget(text: str) -> bool:
    n = len(words(text))
    if n > 15:
        return False
    if _SHARE_START.match(text):
        return True
    found = _SOCIAL.findall(text)
    return len({m.lower() for m in found}) >= 2 and len(found) >= n / 2


def is_promo(text: str) -> bool:
    return len(words(text)) <= 35 and not text.startswith("-") and bool(_PROMO.search(text))


def is_disclaimer(text: str) -> bool:
    n = len(words(text))
    if n > 70 or n < 4:
        return False
    if _DISCLAIMER_STRONG.search(text) and (_DISCLAIMER_SUBJECT.search(text) or n <= 40):
        return True
    claims = {m.lower() for m in _DISCLAIMER_CLAIM.findall(text)}
    return bool(_DISCLAIMER_SUBJECT.search(text)) and len(claims) >= 2


def is_bio(text: str) -> bool:
    n = len(words(text))
    if n > 60 or n < 3 or re.search(r"[\"“”„]|\(@\w", text):
        return False
    return any(p.search(text) for p in _BIO)


def is_attribution(text: str) -> bool:
    n = len(words(text))
    if n > 45 or n < 2:
        return False
    return any(p.search(text) for p in _ATTRIBUTION)


def is_standfirst(text: str) -> bool:
    n = len(words(text))
    if n > 90 or n < 3:
        return False
    return any(p.search(text) for p in _STANDFIRST)


def _strip_prefix(title: str) -> str:
    m = re.match(r"^\s*[^:|–—]{2,25}?(?:[:|–—]| - )\s*(.{12,})$", title)
    return m.group(1) if m else title


def title_variants(titles: Iterable[str | None]) -> list[str]:
    """Normalised headline forms to compare paragraphs with (prefixes and site suffixes cut)."""
    out: list[str] = []
    for t in titles:
        if not t:
            continue
        forms = {t, _strip_prefix(t)}
        for sep in (" | ", " - ", " – ", " — ", " :: ", " · "):
            if sep in t:
                forms.update(part for part in t.split(sep) if len(words(part)) >= 3)
        for f in forms:
            nf = normalize(f)
            if len(nf) >= 8 and nf not in out:
                out.append(nf)
    return out


def is_title_repeat(text: str, variants: Sequence[str], *, near_start: bool) -> bool:
    nt = normalize(text)
    if not nt or len(words(text)) > 40:
        return False
    for v in variants:
        if nt == v:
            return True
        if near_start:
            short, long_ = (nt, v) if len(nt) <= len(v) else (v, nt)
            if (
                len(short) >= 12
                and len(short) >= 0.5 * len(long_)
                and (long_.startswith(short) or long_.endswith(short))
            ):
                return True
    return False


@dataclass
class Verdict:
    index: int
    kind: str
    text: str


def classify(
    paragraphs: Sequence[str],
    *,
    titles: Iterable[str | None] = (),
    names_outlet: Callable[[str], bool] | None = None,
    is_link_line: Callable[[str], bool] | None = None,
) -> list[Verdict]:
    """Decide which paragraphs of an extracted body are additions; return them with their kind.

    Paragraphs not returned are the article. Position matters: standfirsts and attribution lines
    count only near the start or the end, bios and disclaimers only near the end. ``names_outlet``
    tells whether a sentence names an outlet other than the page's own; a standfirst must.
    ``is_link_line`` tells whether a short "Label: text" paragraph is a label and one link (a
    related-article line whatever its label says).
    """
    variants = title_variants(titles)
    n = len(paragraphs)
    verdicts: dict[int, str] = {}

    # headline repeated inside the body; anything short before the first one is masthead/kicker
    first_title = None
    for i, p in enumerate(paragraphs):
        if is_title_repeat(p, variants, near_start=i < HEAD_WINDOW + 2):
            verdicts[i] = TITLE
            if first_title is None and i < HEAD_WINDOW + 2:
                first_title = i
    if first_title is not None:
        for i in range(first_title):
            if i not in verdicts and len(words(paragraphs[i])) <= 8:
                verdicts[i] = MASTHEAD

    for i, p in enumerate(paragraphs):
        if i in verdicts:
            continue
        if is_related_line(p) or (
            is_link_line is not None
            and _LABELLED.match(p)
            and len(words(p)) <= 30
            and is_link_line(p)
        ):
            verdicts[i] = RELATED
        elif is_share_widget(p):
            verdicts[i] = SHARE

    body_idx = [i for i in range(n) if i not in verdicts]
    head = body_idx[:HEAD_WINDOW]
    tail = body_idx[-TAIL_WINDOW:] if len(body_idx) > HEAD_WINDOW else []

    # end of the body: disclaimers, attribution lines and tag blocks anywhere in the last
    # paragraphs; bios and promotions only below the last long paragraph
    in_closing = True
    for pos, i in enumerate(reversed(tail)):
        p = paragraphs[i]
        if is_tag_block(p, last=pos == 0):
            verdicts[i] = TAGS
        elif is_disclaimer(p):
            verdicts[i] = DISCLAIMER
        elif is_attribution(p):
            verdicts[i] = ATTRIBUTION
        elif in_closing and is_bio(p) and len(body_idx) > 3:
            verdicts[i] = BIO
        elif in_closing and is_promo(p):
            verdicts[i] = PROMO
        elif len(words(p)) > 25:
            in_closing = False

    # start of the body
    for i in head:
        if i in verdicts:
            continue
        p = paragraphs[i]
        if is_attribution(p):
            verdicts[i] = ATTRIBUTION
        elif is_standfirst(p) and (names_outlet is None or names_outlet(p)):
            verdicts[i] = STANDFIRST
        elif len(words(p)) > 12:
            break

    return [Verdict(i, verdicts[i], paragraphs[i]) for i in sorted(verdicts)]
