"""The defaults of the pattern and list parameters: what they name, and why."""

# Patterns are regular expressions matched case-insensitively against the prompt text
# (Rust ``regex`` syntax as polars runs them; no look-around or back-references).
# They name the request for the working in the ways people write it, formal ("show your full
# reasoning") and casual ("break down your logic", "don't skip steps"): reworded asks are still
# asks for the reasoning.
REASONING_PATTERNS = (
    r"step[- ]by[- ]step",
    r"chain[- ]of[- ]thought",
    r"show (me )?(all |your |the )?(full |complete |entire |whole )?"
    r"(work|working|reasoning|derivation|steps|logic)",
    r"(show|explain|list|write( out)?|give|include|justify|go through) (me )?(all|each|every)"
    r"( (of )?(the|your))?( intermediate| single)? steps?",
    r"(explain|walk (me |us )?through|talk (me |us )?through|go through|write out|spell out|"
    r"lay out|break down) (all |each |every )?(of )?(your|the) "
    r"(reasoning|thinking|thought process|logic|steps|working)",
    r"(walk|talk|take) (me |us )?through how you",
    r"explain how you (got|get|arrived|arrive|reached|reach|came|come) (to|at|there)",
    r"think(ing)? (it )?(through )?(carefully|aloud|out loud)",
    r"(full|complete|detailed|entire|whole|internal) "
    r"(reasoning|derivation|thought process|rationale|working|logic|chain of reasoning)",
    r"reason(ing)? (before|then) (answer|respond)",
    r"<\s*(think|thinking|reasoning|scratchpad|thought)\s*>",
    r"(before|prior to) (giving|stating) (the|your) (final )?answer",
    r"(do not|don'?t|never) skip (any )?(of the )?steps",
)
CAPABILITY_PATTERNS = {
    "coding": (
        r"\b(python|javascript|typescript|rust|golang|java|c\+\+|sql|bash)\b",
        r"\b(function|refactor|unit tests?|debug|stack trace|compile|regex|api endpoint)\b",
        r"\b(implement|write) (a |an |the )?(function|class|script|program|module)",
        r"```",
    ),
    "agentic": (
        r"\b(tool call|function call|call the tool|use the tools?|agent|plan and execute)\b",
        r"\b(browse|navigate to|click|execute the command|terminal|shell command)\b",
        r"\b(multi-step task|subtasks?|json schema|observation:|action:)\b",
    ),
    "reasoning": (
        r"\b(prove|proof|theorem|lemma|derive|integral|equation|probability)\b",
        r"\b(puzzle|logic problem|olympiad|competition math|riddle)\b",
        r"\b(solve|calculate|compute) (for|the|this)\b",
    ),
}
# Free-mail and throwaway-mail providers: a shared email domain among these says nothing about
# an organisation (and a throwaway address even less: strangers, and fleets, sign up with them).
FREE_MAIL_DOMAINS = (
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com",
    "icloud.com", "proton.me", "protonmail.com", "aol.com", "gmx.com", "gmx.de", "mail.ru",
    "yandex.ru", "yandex.com", "qq.com", "163.com", "126.com", "sina.com", "naver.com",
    "tutanota.com", "mail.com", "zoho.com", "fastmail.com",
    # throwaway
    "mailinator.com", "guerrillamail.com", "guerrillamail.net", "sharklasers.com",
    "10minutemail.com", "10minutemail.net", "yopmail.com", "temp-mail.org", "tempmail.lol",
    "trashmail.com", "trashmail.de", "dropmail.me", "getnada.com", "maildrop.cc", "mohmal.com",
    "emailondeck.com", "throwawaymail.com", "dispostable.com", "fakeinbox.com",
    "burnermail.io", "mintemail.com", "spamgourmet.com", "mailnesia.com",
)  # fmt: skip
# Hosting, cloud and proxy/VPN networks (ASNs). Operators extend this from their own feeds.
HOSTING_ASNS = (
    16509, 14618, 8987,  # Amazon
    15169, 396982, 19527,  # Google
    8075, 8068,  # Microsoft
    14061,  # DigitalOcean
    16276,  # OVH
    24940, 213230,  # Hetzner
    63949,  # Akamai/Linode
    20473,  # Vultr/Choopa
    45102, 37963,  # Alibaba
    132203, 45090,  # Tencent
    31898,  # Oracle
    9009,  # M247 (VPN exits)
    212238, 60068,  # Datacamp / CDN77 (VPN and proxy exits)
    51167,  # Contabo
    12876,  # Scaleway
    40021,  # Contabo US / NameCheap proxies
    136787,  # TEFINCOM (VPN)
    202425,  # IP Volume (proxy)
)  # fmt: skip
