"""The world the held-out accounts live in: countries, networks, clients, mail and cards.

Every address, client string and domain an account uses is drawn from here, so that benign
customers and fleets share the same networks (a fleet behind residential proxies shows the
same ISPs as the homes around it) and differ only in how they use them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# country, UTC offset of its busiest region (hours), weight among ordinary customers, language
COUNTRIES = [
    ("US", -6, 30, "en"),
    ("GB", 0, 8, "en"),
    ("DE", 1, 7, "de"),
    ("FR", 1, 5, "fr"),
    ("IN", 5.5, 9, "en"),
    ("JP", 9, 5, "ja"),
    ("BR", -3, 5, "pt"),
    ("CA", -5, 4, "en"),
    ("AU", 10, 3, "en"),
    ("ES", 1, 3, "es"),
    ("NL", 1, 3, "en"),
    ("KR", 9, 3, "ko"),
    ("SG", 8, 2, "en"),
    ("PL", 1, 2, "en"),
    ("MX", -6, 3, "es"),
    ("NG", 1, 2, "en"),
    ("ID", 7, 2, "en"),
    ("SE", 1, 2, "en"),
    ("IT", 1, 2, "en"),
    ("TR", 3, 2, "en"),
]
OFFSET = {c: off for c, off, _, _ in COUNTRIES}
LANGUAGE = {c: lang for c, _, _, lang in COUNTRIES}


def pick_country(rng: random.Random) -> str:
    return rng.choices([c[0] for c in COUNTRIES], weights=[c[2] for c in COUNTRIES])[0]


@dataclass
class Network:
    """An autonomous system and the address blocks it hands out (first two octets of /16s)."""

    asn: int
    name: str
    blocks: list[tuple[int, int]]
    v6_prefix: str | None = None

    def address(self, rng: random.Random) -> str:
        a, b = rng.choice(self.blocks)
        return f"{a}.{b}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def v6(self, rng: random.Random, home: int) -> str:
        # One /64 per home; the device part changes (privacy extensions).
        iid = ":".join(f"{rng.randrange(65536):x}" for _ in range(4))
        return f"{self.v6_prefix}:{home >> 16 & 0xFFFF:x}:{home & 0xFFFF:x}:{iid}"


def _net(asn, name, *blocks, v6=None):
    return Network(asn, name, list(blocks), v6)


# Home broadband per country (real ASNs; blocks are plausible, not looked up).
HOME_ISPS = {
    "US": [
        _net(7922, "comcast", (73, 12), (98, 207), (24, 6), v6="2601:1c0"),
        _net(701, "verizon", (71, 105), (108, 28)),
        _net(20115, "charter", (76, 88), (47, 150)),
        _net(7018, "att", (99, 54), (107, 200), v6="2600:1700"),
    ],
    "GB": [_net(2856, "bt", (86, 160), (81, 156)), _net(5089, "virgin", (82, 37), (86, 0))],
    "DE": [
        _net(3320, "telekom", (79, 200), (93, 211), v6="2003:e4"),
        _net(3209, "vodafone-de", (88, 70), (94, 134)),
    ],
    "FR": [_net(3215, "orange", (90, 12), (86, 245)), _net(12322, "free", (82, 64), (88, 172))],
    "IN": [_net(55836, "jio", (49, 36), (157, 32)), _net(24560, "airtel", (122, 161), (182, 68))],
    "JP": [_net(4713, "ocn", (153, 200), (180, 12)), _net(2516, "kddi", (106, 128), (111, 86))],
    "BR": [_net(28573, "claro-br", (177, 33), (189, 4)), _net(18881, "vivo", (177, 95))],
    "CA": [_net(812, "rogers", (99, 224), (174, 112)), _net(577, "bell", (70, 48), (142, 112))],
    "AU": [_net(1221, "telstra", (101, 160), (120, 144))],
    "ES": [_net(3352, "movistar", (83, 40), (88, 6))],
    "NL": [_net(1136, "kpn", (77, 160), (86, 80))],
    "KR": [_net(4766, "kt", (121, 128), (175, 192))],
    "SG": [_net(9506, "singtel", (116, 14), (118, 200))],
    "PL": [_net(5617, "orange-pl", (83, 24), (89, 64))],
    "MX": [_net(8151, "telmex", (187, 140), (189, 216))],
    "NG": [_net(29465, "mtn-ng", (102, 88), (105, 112))],
    "ID": [_net(7713, "telkom-id", (36, 64), (180, 244))],
    "SE": [_net(3301, "telia", (81, 224), (90, 224))],
    "IT": [_net(3269, "tim", (79, 20), (93, 40))],
    "TR": [_net(9121, "turk-telekom", (78, 160), (88, 230))],
}

# Mobile carriers put thousands of phones behind a few carrier-grade NAT addresses.
MOBILE = [
    _net(21928, "t-mobile-us", (172, 56)),
    _net(22394, "verizon-wireless", (174, 192)),
    _net(45609, "airtel-mobile", (106, 76)),
    _net(26599, "vivo-mobile", (191, 190)),
    _net(12576, "ee", (92, 40)),
]

CLOUDS = {
    "aws": _net(16509, "amazon", (3, 80), (18, 204), (34, 224), (44, 192), (54, 160)),
    "gcp": _net(396982, "google-cloud", (34, 86), (35, 200), (104, 196)),
    "azure": _net(8075, "microsoft", (20, 42), (40, 76), (52, 150)),
    "hetzner": _net(24940, "hetzner", (65, 108), (95, 216), (135, 181), (168, 119)),
    "digitalocean": _net(14061, "digitalocean", (143, 198), (159, 223), (167, 99)),
    "ovh": _net(16276, "ovh", (51, 75), (54, 36), (141, 94)),
}
# Cheap hosting that sells by the hour; ordinary hobbyists rent here too.
BUDGET_HOSTS = [
    _net(51167, "contabo", (62, 171), (167, 86)),
    _net(20473, "vultr", (45, 76), (149, 28)),
    _net(45102, "alibaba-intl", (47, 74), (8, 219)),
    _net(132203, "tencent-intl", (43, 135)),
    _net(63949, "linode", (172, 104), (45, 79)),
]

VPN_PROVIDERS = [_net(9009, "m247", (185, 156), (89, 238)), _net(60068, "datacamp", (156, 146))]
SECURE_GATEWAY = _net(53813, "zscaler", (165, 225), (136, 226))


@dataclass
class ExitPool:
    """A fixed set of exits shared by whoever is routed through them."""

    addresses: list[tuple[str, int]]

    def pick(self, rng: random.Random) -> tuple[str, int]:
        return rng.choice(self.addresses)


def pool_from(networks: list[Network], size: int, rng: random.Random, per24: int = 8) -> ExitPool:
    """``size`` exits clustered in /24s (providers lease blocks), ``per24`` exits per block."""
    out: list[tuple[str, int]] = []
    while len(out) < size:
        net = rng.choice(networks)
        a, b = rng.choice(net.blocks)
        c = rng.randrange(256)
        for d in rng.sample(range(2, 254), per24):
            out.append((f"{a}.{b}.{c}.{d}", net.asn))
    return ExitPool(out[:size])


def residential_proxy_pool(rng: random.Random, size: int) -> ExitPool:
    """A commercial rotating 'residential' proxy network: exits are real home connections in
    a handful of ISPs (plus some hosting), concentrated where the network recruits devices."""
    homes = [n for c in ("US", "BR", "IN", "ID", "TR", "MX") for n in HOME_ISPS[c]]
    pool = pool_from(homes, int(size * 0.85), rng, per24=6)
    pool.addresses += pool_from(BUDGET_HOSTS, size - len(pool.addresses), rng).addresses
    return pool


# --- clients ---------------------------------------------------------------------------------

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_{m}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
]


def browser(rng: random.Random) -> str:
    return rng.choice(BROWSERS).format(
        v=rng.randint(124, 131), m=rng.randint(1, 6), f=rng.randint(125, 133)
    )


def phone_app(rng: random.Random) -> str:
    ver = f"3.{rng.randint(8, 14)}.{rng.randint(0, 4)}"
    if rng.random() < 0.55:
        return f"KestrelChat/{ver} (iPhone; iOS 17.{rng.randint(2, 6)}; Scale/3.00)"
    device = rng.choice(["Pixel 8", "SM-S918B", "SM-A546E", "2201117TG", "CPH2451"])
    return f"KestrelChat/{ver} (Android {rng.randint(12, 14)}; {device})"


def sdk(rng: random.Random) -> str:
    return rng.choice(
        [
            f"kestrel-python/1.{rng.randint(30, 52)}.{rng.randint(0, 3)}",
            f"kestrel-node/4.{rng.randint(10, 22)}.0",
            "python-requests/2.32.3",
            "python-requests/2.31.0",
            f"httpx/0.27.{rng.randint(0, 2)}",
            f"litellm/1.{rng.randint(40, 55)}.{rng.randint(0, 9)}",
            "Go-http-client/2.0",
            f"langchain-kestrel/0.{rng.randint(1, 3)}.{rng.randint(0, 9)}",
            "curl/8.5.0",
        ]
    )


def coding_agent_ua(rng: random.Random) -> str:
    """The popular coding agent everyone uses: one product, a handful of live versions."""
    version = rng.choice(["2.4.1", "2.4.3", "2.5.0", "2.5.2", "2.6.0"])
    platform = rng.choice(["darwin; arm64", "darwin; arm64", "linux; x64", "win32; x64"])
    return f"driftwood/{version} ({platform}) node/{rng.choice(['20.11.1', '22.3.0', '18.19.0'])}"


# --- identity ----------------------------------------------------------------------------------

WEBMAIL = (
    ["gmail.com"] * 12
    + ["outlook.com"] * 3
    + [
        "yahoo.com",
        "icloud.com",
        "hotmail.com",
        "proton.me",
        "gmx.de",
        "web.de",
        "qq.com",
        "163.com",
        "naver.com",
        "yandex.ru",
        "orange.fr",
        "libero.it",
    ]
)
# Disposable-mail services: ordinary people use them for a free trial too.
DISPOSABLE = [
    "mailinator.com",
    "10minutemail.net",
    "tempr.email",
    "guerrillamail.com",
    "sharklasers.com",
    "yopmail.com",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ren",
    "to",
    "va",
    "shi",
    "quo",
    "zen",
    "bri",
    "mar",
    "tel",
    "dor",
    "fin",
    "gal",
    "hux",
    "jor",
    "nim",
    "pax",
    "ruv",
    "sol",
    "tam",
    "vex",
    "wyn",
]
TLDS_CHEAP = [".xyz", ".top", ".click", ".shop", ".online", ".site", ".icu"]


def word(rng: random.Random, parts: int = 2) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


def card(rng: random.Random) -> str:
    return "pf_" + "".join(rng.choice("0123456789abcdef") for _ in range(24))


def account_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        value = "acct_" + "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(14))
        if value not in taken:
            taken.add(value)
            return value


@dataclass
class Account:
    account_id: str
    cohort: str
    created_at: float  # epoch seconds
    email_domain: str | None = None
    org_id: str | None = None
    payment_fingerprint: str | None = None
    country: str | None = None
    plan: str | None = None
    campaign: str | None = None
    updates: list[dict] = field(default_factory=list)  # later accounts rows (field -> value)

    def row(self) -> dict:
        from datetime import UTC, datetime

        created = datetime.fromtimestamp(self.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        row = {"account_id": self.account_id, "created_at": created}
        for key in ("email_domain", "org_id", "payment_fingerprint", "country", "plan"):
            value = getattr(self, key)
            if value is not None:
                row[key] = value
        return row
