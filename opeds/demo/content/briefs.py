"""One-line news briefs for the sample outlets' section pages (headlines only, fictional)."""

BRIEFS: dict[str, tuple[str, ...]] = {
    "Middle East": (
        "Jordan and Iraq agree to extend customs hours at the Karameh-Trebil crossing",
        "Lebanese parliament committee resumes debate on the deposit recovery bill",
        "UN envoy meets regional officials in Amman on the Syrian political track",
    ),
    "World": (
        "Finance ministers meet amid renewed concern over developing-country debt",
        "Marine insurers review war-risk premiums for vessels bound for Suez",
        "Climate talks open with adaptation funding at the top of the agenda",
    ),
    "Business": (
        "Gulf bourses end the week higher, led by banking shares",
        "Egypt's canal receipts fall for a third consecutive quarter",
        "New industrial zone offers incentives to regional manufacturers",
    ),
    "Culture": (
        "Regional book fair reports record attendance on its opening weekend",
        "Restored merchant's house reopens as a museum of coastal trade",
        "Arab film festival names the members of its international jury",
    ),
}
