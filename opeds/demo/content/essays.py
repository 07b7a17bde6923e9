"""The sample op-eds: title, byline, one-line bio, teaser, keywords and paragraphs.

Keys name the piece, not where it appears: the demo site (:mod:`opeds.demo.site`) decides which
outlet prints it first and who republishes it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Essay:
    key: str
    title: str
    author: str
    bio: str
    """The author line republishers print under the text."""
    summary: str
    """One sentence: the teaser on listings and feeds, the ``description`` meta tag."""
    keywords: tuple[str, ...]
    paragraphs: tuple[str, ...]


_ESSAYS = (
    Essay(
        key="normalization",
        title="Normalization with the Syrian Regime Didn't Yield any Results",
        author="Jonathan Hargreaves",
        bio="Jonathan Hargreaves is a London-based analyst of Levantine politics.",
        summary=(
            "Arab capitals reopened their doors to Damascus expecting concessions on drugs, "
            "refugees and a political process. They are still waiting."
        ),
        keywords=("Syria", "Arab League", "Normalization", "Captagon", "Refugees"),
        paragraphs=(
            "When Arab governments began reopening embassies in Damascus and welcoming Syrian "
            "delegations back to regional summits, the case they made was practical rather than "
            "sentimental. Isolation, they argued, had not moved the regime an inch in more than a "
            "decade. Engagement might. In return for a seat at the table, Damascus would be asked "
            "to curb the flow of captagon across its borders, to make room for the return of "
            "refugees, and to take the first steps toward the political process that the United "
            "Nations has been trying to revive for years.",
            "Two years on, it is fair to ask what that bargain has produced. The honest answer is "
            "very little. The trade in captagon has not slowed in any measurable way; seizures on "
            "the Jordanian and Saudi borders remain at record levels, and the smuggling networks "
            "have grown more violent, not less. The number of refugees who have gone home from "
            "Lebanon, Jordan and Turkey is small next to the number who have left again. And the "
            "constitutional committee in Geneva has not met at all.",
            "None of this should surprise anyone who has followed the regime's conduct since "
            "2011. Damascus has always treated concessions as a sign of weakness in its "
            "adversaries rather than an invitation to reciprocate. It pocketed its readmission to "
            "the Arab League as a vindication of its strategy, and its officials have said as much "
            "in public. When asked about reforms, they answer with demands for reconstruction "
            "money and the lifting of sanctions first, as if the sequence were theirs to set.",
            "The architects of normalization also underestimated how little the regime controls. "
            "Large parts of the economy in government-held areas are run by militias, business "
            "fronts and security branches that answer to different patrons. Even if the "
            "presidency wished to shut down the drug trade, it is not clear that it could do so "
            "without turning on the very networks that keep it in power. A state that cannot "
            "deliver is a poor partner for a transactional policy, however generous the terms.",
            "There is a lesson here for the governments that led the opening. Engagement without "
            "conditions that can be checked is not a policy; it is a hope. If Arab capitals want "
            "something from Damascus, they will need benchmarks that are specific, public and "
            "tied to things that can be withdrawn: flights, trade access, ministerial visits. They "
            "will also need to coordinate with one another, because the regime has become adept "
            "at playing one neighbour against the next.",
            "Syrians inside and outside the country have watched this experiment with a mixture "
            "of weariness and anger. For them the question was never whether Damascus would be "
            "welcomed back, but on what terms and at whose expense. So far the terms have been set "
            "by the regime. Unless that changes, normalization will be remembered as the moment "
            "the region gave away its leverage and received nothing in return.",
        ),
    ),
    Essay(
        key="red-sea",
        title="The Red Sea Has Become a Tax on Everyone",
        author="Mona Saadeh",
        bio="Mona Saadeh is an economist who writes on trade and shipping in the Gulf and the "
        "Horn of Africa.",
        summary=(
            "Ships that avoid the Bab al-Mandab pay in time, fuel and insurance, and the bill "
            "lands hardest on the region's poorest importers."
        ),
        keywords=("Red Sea", "Shipping", "Suez Canal", "Yemen", "Trade"),
        paragraphs=(
            "For most of the past half century the Red Sea was something that shipping managers "
            "rarely had to think about. Vessels passed through the Bab al-Mandab, on to the Suez "
            "Canal and into the Mediterranean, and the route was priced into every container of "
            "furniture, grain and machinery that moved between Asia and Europe. That certainty is "
            "gone, and its loss is being paid for in places far from the coast of Yemen.",
            "The arithmetic is simple. A ship that avoids the strait and sails around the Cape of "
            "Good Hope adds ten days or more to a voyage between East Asia and northern Europe. It "
            "burns more fuel, pays its crew for longer and ties up capital in cargo that is still "
            "at sea. Insurers, meanwhile, have raised war-risk premiums for the vessels that still "
            "take the short route. Every one of those costs is eventually passed on to someone.",
            "Egypt has felt it first and hardest. Canal revenues, one of the few reliable sources "
            "of hard currency for a country under heavy debt pressure, have fallen sharply, and "
            "the shortfall arrives at a moment when Cairo can least afford it. Ports in the "
            "eastern Mediterranean and the Gulf have lost transshipment business, while small "
            "economies in the Horn of Africa that depend on imported fuel and food now pay more "
            "for both.",
            "Consumers in Europe have seen higher prices in some categories, but the effect on "
            "poorer importers is sharper. Food-importing states in the Arab world buy in dollars "
            "and sell in weakening local currencies. A few percentage points on freight and "
            "insurance can decide whether a government keeps bread subsidies in place or cuts "
            "them. The burden of a conflict at sea is distributed very unevenly on land.",
            "Naval patrols have reduced some risks but have not restored confidence, and they "
            "cannot do so on their own. Shipping companies make decisions on a horizon of months, "
            "not days. They will return to the short route when they believe the threat has "
            "ended, not when it has merely been contained. That requires a political settlement "
            "in Yemen and a regional understanding on freedom of navigation that no single fleet "
            "can impose.",
            "Until then, the Red Sea will work as a quiet tax levied on trade between two "
            "continents. The countries that border it have the strongest interest in lifting that "
            "tax, and they should be at the centre of any arrangement to do so rather than "
            "spectators to decisions made elsewhere.",
        ),
    ),
    Essay(
        key="iraq-water",
        title="Iraq's Water Crisis Is a Governance Crisis",
        author="Omar Kheirallah",
        bio="Omar Kheirallah is an Iraqi engineer and commentator on water and energy policy.",
        summary=(
            "Upstream dams and a hotter climate are real, but Iraq wastes much of the water it "
            "still receives, and that part of the crisis is made at home."
        ),
        keywords=("Iraq", "Water", "Tigris", "Euphrates", "Climate"),
        paragraphs=(
            "Every summer, images of the dried-out marshes of southern Iraq circulate again: "
            "buffalo standing in cracked mud, fishing boats stranded far from any water, families "
            "loading their belongings onto trucks. The explanation offered in Baghdad rarely "
            "changes. Upstream dams in Turkey and Iran have cut the flow of the Tigris and the "
            "Euphrates, and climate change has done the rest.",
            "Both of those things are real. Dams on the upper reaches of both rivers have reduced "
            "and reshaped their flow, and tributaries that once fed eastern Iraq have been "
            "diverted. Rainfall across the basin has become less predictable and the hot season "
            "longer. But to stop the explanation there is to let Iraq's own institutions off the "
            "hook.",
            "Iraq loses an enormous share of the water it does receive. Irrigation in much of the "
            "country still relies on flooding fields through open earthen canals, a method that "
            "wastes most of the water before it reaches a crop. Networks built in the 1970s and "
            "1980s have not been maintained. Salinity is rising in the south because drainage "
            "systems were abandoned. None of these problems were made in Ankara or Tehran.",
            "Management is split between ministries and provinces that compete for allocations "
            "instead of planning together. Farmers upstream take what they can because they have "
            "no confidence that rules will be enforced or that restraint will be rewarded. Data on "
            "actual consumption is patchy, which makes it almost impossible to negotiate "
            "convincingly with neighbours about shares.",
            "That last point matters more than it appears. Baghdad's hand in talks over the rivers "
            "has been weak partly because it cannot show that it uses what it already has "
            "efficiently. A country that modernized its irrigation, metered its canals and "
            "published reliable figures would have a far stronger case for a binding agreement on "
            "minimum flows.",
            "There are encouraging signs: pilot projects for drip irrigation in the central "
            "provinces, new interest in treated wastewater, and a younger generation of engineers "
            "who understand the scale of the problem. What is missing is the political will to "
            "treat water as a matter of national security rather than a seasonal emergency. Until "
            "that changes, the marshes will keep drying, and the blame will keep flowing upstream.",
        ),
    ),
    Essay(
        key="lebanon-banks",
        title="Lebanon Cannot Keep Postponing Its Banking Reckoning",
        author="Dalia Naccache",
        bio="Dalia Naccache is a Lebanese financial journalist based in Beirut.",
        summary=(
            "Years after the collapse, nobody has decided who pays for the hole in Lebanon's "
            "banks, so the losses are being assigned anyway, quietly and unfairly."
        ),
        keywords=("Lebanon", "Banks", "Depositors", "IMF", "Economy"),
        paragraphs=(
            "Lebanon's financial collapse began in the autumn of 2019, and depositors have been "
            "waiting ever since for someone to tell them what happened to their money. Successive "
            "governments have promised a plan. Parliament has debated draft laws on capital "
            "controls, bank restructuring and the distribution of losses. Yet the central "
            "question of who pays for a hole measured in tens of billions of dollars remains "
            "unanswered.",
            "The delay has not been neutral. Every year without a resolution, depositors have "
            "been repaid in small withdrawals at punishing exchange rates, quietly absorbing "
            "losses that were never formally assigned to them. Those with connections moved money "
            "abroad early. Those without them, pensioners and small businesses among them, have "
            "borne the cost. A crisis that was never officially allocated has been allocated in "
            "practice, and unfairly.",
            "The banks have argued that the state, which borrowed heavily from the central bank, "
            "should carry most of the burden. The state has argued that shareholders and large "
            "depositors must take the first losses. Both positions contain some truth, and both "
            "have served as a reason to do nothing. Meanwhile the economy has rearranged itself "
            "around cash, with all the risks that brings for money laundering and tax evasion.",
            "International partners have been clear that support depends on a credible "
            "restructuring of the sector. That means an independent audit of the banks, a legal "
            "hierarchy of claims that protects small depositors first, and a recapitalization plan "
            "that does not simply hand the losses to the public. None of these ideas are new. They "
            "have been on the table for years.",
            "The argument for waiting, that conditions will improve and losses will shrink, has "
            "been tested and has failed. Inflation, emigration and the steady erosion of trust "
            "have made the hole deeper, not shallower. A modest recovery in tourism and "
            "remittances has kept households afloat, but it cannot stand in for a banking system "
            "that lends to businesses and protects savings.",
            "Lebanon's politicians often describe the banking law as too difficult to pass in the "
            "current climate. The truth is that it will never be easy. The choice is between an "
            "orderly settlement that distributes losses openly and by rules, and the disorderly "
            "one that is already happening. The longer the country postpones the first, the more "
            "it pays for the second.",
        ),
    ),
    Essay(
        key="jordan-connectivity",
        title="Jordan's Quiet Bet on Regional Connectivity",
        author="Yusuf Abboud",
        bio="Yusuf Abboud is a Jordanian writer on regional economics and infrastructure.",
        summary=(
            "With few natural resources, Amman is trying to make itself indispensable by moving "
            "other people's electricity, goods and data."
        ),
        keywords=("Jordan", "Energy", "Trade", "Aqaba", "Infrastructure"),
        paragraphs=(
            "Jordan rarely makes headlines for its economic strategy. It is more often discussed "
            "as a buffer state, a host to refugees or a partner in security arrangements. But over "
            "the past few years Amman has made a quiet wager that deserves more attention: that a "
            "country with few natural resources can make itself useful by connecting others.",
            "The clearest example is electricity. Jordan has invested heavily in solar and wind "
            "generation, and it now has periods of surplus that it can export. A line to Egypt "
            "already exists, links to Iraq are being built, and talk of a connection to the Gulf "
            "grid has moved from feasibility studies to engineering work. Power that flows across "
            "borders creates dependencies, and dependencies of this kind tend to encourage "
            "cooperation.",
            "Trade routes follow the same logic. The port of Aqaba is being modernized, and the "
            "road corridors that run north toward Iraq and Syria and south toward Saudi Arabia "
            "give Jordanian logistics firms a role in supply chains that once bypassed the kingdom "
            "entirely. Customs reforms have shortened clearance times at several crossings, "
            "although truck drivers will tell you there is still a long way to go.",
            "There are risks in this approach. Connectivity depends on neighbours, and Jordan's "
            "neighbours include some of the least stable states in the region. A corridor to Iraq "
            "is only as reliable as security along the highway through Anbar. Any trade through "
            "Syria runs into sanctions, smuggling and the unpredictability of the authorities in "
            "Damascus.",
            "Still, the bet is a rational one. A small state cannot choose its geography, but it "
            "can decide how to use it. By becoming a place where electricity, goods and data "
            "change hands, Jordan raises the cost to others of instability on its territory and "
            "gives its partners a reason to care about its economic health.",
            "The test will be whether these projects turn into jobs at home. Unemployment among "
            "young Jordanians remains stubbornly high, and infrastructure employs few people once "
            "it is built. The government will need to pair its regional ambitions with reforms "
            "that make it easier to start a business, hire workers and export services. "
            "Connectivity is a strategy, but it is not yet a growth model.",
        ),
    ),
    Essay(
        key="gulf-funds",
        title="Gulf Sovereign Funds Are Learning to Be Patient",
        author="Faisal Al-Qudsi",
        bio="Faisal Al-Qudsi writes on Gulf economies and investment.",
        summary=(
            "The region's big funds have turned into tools of domestic economic policy, and that "
            "asks for a patience markets do not always reward."
        ),
        keywords=("Gulf", "Sovereign Wealth", "Investment", "Diversification"),
        paragraphs=(
            "For years the sovereign wealth funds of the Gulf were described abroad as passive "
            "pools of oil money, buying trophy buildings in London and minority stakes in Western "
            "companies. That description was always incomplete, and it is now badly out of date. "
            "The largest funds in the region have become instruments of domestic economic policy, "
            "and their priorities have changed accordingly.",
            "The shift is visible in where the money goes. A growing share of new investment is "
            "committed at home, to industrial zones, tourism, mining and technology, with the "
            "explicit aim of creating jobs and diversifying revenue away from hydrocarbons. "
            "Foreign investments increasingly come with conditions attached: that a partner opens "
            "a regional headquarters, builds a factory or trains local staff.",
            "This approach brings obvious benefits, but it also requires a kind of patience that "
            "markets do not always reward. Infrastructure and industrial projects take a decade or "
            "more to pay off. Some will fail. The funds will have to explain those failures to "
            "citizens who have been told that the money is working for them, and that calls for a "
            "degree of transparency the region has not always been comfortable with.",
            "There is also the question of crowding out. When a state fund enters a sector with "
            "almost unlimited capital, private investors can find it hard to compete. The most "
            "successful funds will be those that see themselves as catalysts, drawing in private "
            "capital and then stepping back, rather than permanent owners of entire industries.",
            "The oil price will continue to matter. But the fact that Gulf governments now judge "
            "returns in terms of employment, skills and resilience, not only valuations, is a sign "
            "of maturity. The question for the next decade is whether they can hold to that long "
            "view when markets turn and the pressure for quick results returns.",
        ),
    ),
    Essay(
        key="bread-queues",
        title="Bread Queues Return to the Damascus Countryside",
        author="Hassan Daher",
        bio="Hassan Daher writes for The Syrian Observer on living conditions in government-held "
        "areas.",
        summary=(
            "Hassan Daher writes for The Syrian Observer on the return of bread queues to towns "
            "around Damascus after another cut to subsidized flour."
        ),
        keywords=("Syria", "Damascus", "Bread", "Subsidies", "Economy"),
        paragraphs=(
            "In the towns of the Damascus countryside, the morning queue outside the state bakery "
            "has become a fixture again. Residents of Douma, Harasta and Jaramana describe waiting "
            "two or three hours for a bundle of subsidized bread, only to find the ration reduced "
            "or the bakery closed early because its flour allocation had run out.",
            "The immediate cause is a further reduction in the flour distributed to public "
            "bakeries, part of a wider effort by the government to contain the cost of its "
            "support programmes. Officials have presented the change as a measure against waste "
            "and resale. For families already spending most of their income on food, the "
            "distinction is academic.",
            "Private bakeries sell bread without restrictions, but at several times the "
            "subsidized price. A teacher in Jaramana said that his monthly salary now covers "
            "bread for his family of five for about three weeks if they buy it privately. Many "
            "households buy smaller quantities and bake flatbread at home on gas stoves, when gas "
            "is available.",
            "The electronic card meant to ration staples was supposed to make distribution "
            "fairer. In practice, residents say, it has created new room for favouritism. Bakery "
            "staff and local officials decide who is served first, and people with connections "
            "are spared the wait. Complaints posted on local social media pages are often deleted "
            "within hours.",
            "Economists in Damascus warn that the cuts are unlikely to save as much as the "
            "government hopes, because they push more people toward informal markets where flour "
            "diverted from public bakeries is resold. Without higher wages or a recovery in the "
            "currency, the queue outside the bakery will remain the most visible measure of how "
            "far living standards have fallen.",
        ),
    ),
    Essay(
        key="idlib-clinics",
        title="Aid Cuts Are Emptying Clinics in Northwest Syria",
        author="Maysa Qassem",
        bio="Maysa Qassem is a researcher who writes for The Syrian Observer on humanitarian "
        "affairs.",
        summary=(
            "Maysa Qassem writes for The Syrian Observer on how donor cuts are closing primary "
            "care and maternity services in Idlib and northern Aleppo."
        ),
        keywords=("Syria", "Idlib", "Health", "Humanitarian Aid"),
        paragraphs=(
            "Health workers in northwest Syria say they are being forced to choose which services "
            "to keep. Over the past year, funding cuts by several donors have closed or scaled "
            "back dozens of clinics in Idlib and the northern Aleppo countryside, where millions "
            "of people, many displaced several times, depend almost entirely on aid-funded care.",
            "The cuts have fallen hardest on primary care and maternal health, the services that "
            "rarely attract emergency appeals. A midwife at a clinic near Atmeh said her facility "
            "had lost half its staff and now opens three days a week. Women late in pregnancy "
            "travel for hours to reach the few hospitals still offering free deliveries, and some "
            "arrive too late.",
            "Aid agencies point to fatigue among donors and competing crises elsewhere. Local "
            "organizations say they were given little warning and no time to find other funding. "
            "Some have started charging small fees that patients can rarely afford. Others have "
            "merged with larger groups, losing the local knowledge that made them effective.",
            "The consequences will not stay inside the region. Recent outbreaks of cholera and "
            "measles were contained largely because a network of clinics could detect cases early "
            "and vaccinate quickly. That network is now thinner than at any point since the war "
            "began, and doctors warn that the next outbreak will spread further before anyone "
            "notices it.",
            "There is no shortage of plans for early recovery and resilience in Syria. But "
            "resilience starts with the basic services that keep people alive. If donors want "
            "their investments in the region to last, protecting primary health care in the "
            "northwest would be a good place to start.",
        ),
    ),
    Essay(
        key="reconstruction",
        title="Who Will Rebuild Syria's Cities?",
        author="Kinan Sweid",
        bio="Kinan Sweid writes for The Syrian Observer on property and reconstruction.",
        summary=(
            "Kinan Sweid writes for The Syrian Observer on who stands to gain from rebuilding "
            "Syria's cities, and who risks being left out."
        ),
        keywords=("Syria", "Reconstruction", "Property", "Sanctions"),
        paragraphs=(
            "Talk of reconstruction in Syria tends to begin with a number. Estimates of the cost "
            "of rebuilding the country's housing, infrastructure and industry run to hundreds of "
            "billions of dollars, and the figure is usually followed by a discussion of who might "
            "pay it. Far less attention goes to who will actually do the rebuilding, and for whom.",
            "In government-held cities, the first large projects have gone to companies close to "
            "the authorities, often recently formed and with little track record. Property laws "
            "passed during the war allow the state to redevelop whole districts, and residents "
            "who fled cannot easily prove ownership from abroad. Reconstruction of this kind risks "
            "completing the displacement that the fighting began.",
            "Foreign investors who might bring capital and expertise are held back by sanctions, "
            "by the absence of a credible legal framework and by the simple fact that contracts "
            "are hard to enforce. Those who do come expect a return on their money, which means "
            "projects aimed at wealthier buyers rather than families who lost their homes.",
            "Any serious reconstruction effort will need rules on property rights, transparent "
            "tendering and a voice for the people who lived in the neighbourhoods being rebuilt. "
            "Without them, Syria's cities will be rebuilt in concrete and glass, but not for the "
            "people who once filled them.",
        ),
    ),
    Essay(
        key="seat-back",
        title="Damascus Has Its Seat Back. What Did Its Neighbours Get?",
        author="Clara Whitfield",
        bio="Clara Whitfield is a contributing editor at Levant Review.",
        summary=(
            "The reconciliation with Syria was front-loaded: recognition came first, and the "
            "commitments Damascus made were left vague and unmonitored."
        ),
        keywords=("Syria", "Arab League", "Jordan", "Diplomacy"),
        paragraphs=(
            "The photographs from the summit were meant to close a chapter. Syria's president, "
            "absent from Arab League gatherings for twelve years, shook hands with leaders who "
            "had once funded his opponents. The message from the hosts was that the region had "
            "moved on, and that Syria's problems were now best solved from within the Arab family.",
            "Supporters of the reconciliation had a reasonable point. Sanctions and isolation had "
            "impoverished ordinary Syrians without weakening the ruling circle. Neighbouring "
            "states were carrying millions of refugees and a drug trade that crossed their "
            "borders nightly. Talking to Damascus, they said, could hardly make matters worse.",
            "The trouble is that the deal was front-loaded. Recognition, flights and ministerial "
            "visits came first; commitments from Damascus were left vague and unmonitored. The "
            "committee set up to follow refugee returns and drug smuggling has met only "
            'sporadically, and its statements speak of "positive atmospheres" rather than '
            "results.",
            "Jordan's experience is instructive. Amman was among the earliest advocates of "
            "engagement, and it has paid the heaviest price for its failure, with its army "
            "fighting armed smuggling convoys on the northern border. Jordanian officials now talk "
            "about the drug trade as a matter of national security, a change of tone that "
            "reflects disappointment as much as danger.",
            "None of this means the region should return to isolation, which has its own record "
            "of failure. But it does suggest that the order of the bargain matters. States that "
            "want to shape Syria's behaviour would do better to grant recognition in stages, each "
            "tied to steps that can be verified on the ground. A seat at the table should be the "
            "end of a process, not its beginning.",
        ),
    ),
    Essay(
        key="port-inquiry",
        title="Beirut's Port Inquiry Is a Test of Whether Lebanon Can Govern Itself",
        author="Sami Akl",
        bio="Sami Akl is a lawyer and a regular contributor to Levant Review.",
        summary=(
            "Years after the explosion, nobody has been held responsible. The obstacles are "
            "political, and so are the remedies."
        ),
        keywords=("Lebanon", "Beirut", "Judiciary", "Accountability"),
        paragraphs=(
            "Years after the ammonium nitrate stored in a warehouse at Beirut's port exploded and "
            "tore through the city, nobody has been held responsible. The investigation has been "
            "suspended, resumed, blocked by lawsuits against the judge and suspended again. "
            "Families of the more than two hundred people killed still gather outside the port "
            "on the fourth of each month.",
            "The obstacles are not mysterious. Senior politicians and security officials summoned "
            "for questioning have refused to appear, citing immunities or challenging the judge's "
            "authority. Their parties have called the investigation politicized. Each challenge "
            "has been filed in a court system whose own appointments depend on the same political "
            "balance.",
            "The cost of this paralysis goes beyond the victims. Lebanon's recovery depends on "
            "persuading its own citizens and its partners that rules apply to everyone. A state "
            "that cannot explain how tons of explosive material sat unattended in its main port "
            "for years, or who decided to leave it there, will struggle to convince anyone of "
            "anything else.",
            "There are ways forward. Parliament could lift immunities for the purpose of the "
            "inquiry. The judiciary could be given the independence in appointments that "
            "reformers have demanded for years. International support for a fact-finding mission "
            "could complement the domestic process rather than replace it.",
            "None of these steps requires money that Lebanon does not have. They require "
            "political leaders to accept that some questions must be answered even when the "
            "answers are uncomfortable. The families outside the port are not asking for much: a "
            "name, a reason, and a sense that the law still means something in their country.",
        ),
    ),
    Essay(
        key="draft-gulf-diplomacy",
        title="The Next Round of Gulf Diplomacy",
        author="Editorial Desk",
        bio="",
        summary="Draft column held for the print edition.",
        keywords=("Gulf", "Diplomacy"),
        paragraphs=(
            "DRAFT, NOT FOR PUBLICATION. This column is held for the print edition and must not "
            "be shared before its release.",
            "The coming months will test whether the diplomatic openings of recent years can "
            "survive a more crowded regional agenda. Mediation has become a Gulf speciality, but "
            "mediators are judged by agreements that last, not by meetings that are held.",
            "Editors: confirm the figures in the third section with the economics desk before "
            "this goes to layout.",
        ),
    ),
)

ESSAYS: dict[str, Essay] = {e.key: e for e in _ESSAYS}
