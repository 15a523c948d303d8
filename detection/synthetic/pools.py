"""Reference pools the cohorts draw from: networks, user agents, domains, countries.

The numbers here imitate the shape of real gateway logs, not any particular provider's data.
ASNs are real autonomous-system numbers of the kind named (residential ISPs, mobile carriers,
cloud and hosting providers, research networks, commercial VPN exits); the address prefixes
are plausible ranges of those networks, and every address drawn from them is a valid public
IPv4 or IPv6 address. Nothing here is read by detection: a cohort that leans on one of these
lists does so because real traffic of that kind would.
"""

from __future__ import annotations

import ipaddress
import random

# (asn, prefix): residential broadband. Ordinary customers live here, and so do residential
# proxy exits, which is why an ASN alone never separates a fleet from its neighbours.
RESIDENTIAL = [
    (7922, "73.0.0.0/8"),  # Comcast
    (7018, "99.0.0.0/10"),  # AT&T
    (701, "71.160.0.0/11"),  # Verizon
    (3320, "87.128.0.0/10"),  # Deutsche Telekom
    (3215, "90.0.0.0/9"),  # Orange
    (2856, "81.128.0.0/11"),  # BT
    (5089, "82.0.0.0/13"),  # Virgin Media
    (6830, "84.112.0.0/12"),  # Liberty Global
    (4134, "116.224.0.0/12"),  # Chinanet
    (9808, "111.0.0.0/12"),  # China Mobile broadband
    (4766, "121.128.0.0/11"),  # Korea Telecom
    (2516, "106.128.0.0/11"),  # KDDI
    (9498, "122.160.0.0/12"),  # Bharti Airtel
    (28573, "177.0.0.0/11"),  # Claro Brasil
    (12389, "95.24.0.0/13"),  # Rostelecom
    (1221, "101.160.0.0/11"),  # Telstra
    (812, "99.224.0.0/11"),  # Rogers
]
# Mobile carriers: carrier-grade NAT, so one address is shared by strangers; some IPv6.
MOBILE = [
    (21928, "2607:fb90::/32"),  # T-Mobile US
    (22394, "174.192.0.0/10"),  # Verizon Wireless
    (3209, "2a02:3000::/23"),  # Vodafone DE
    (12430, "2a00:1d58::/32"),  # Vodafone ES
    (45609, "2401:4900::/32"),  # Bharti mobile
    (9808, "2409:8a00::/24"),  # China Mobile
]
# Carrier-grade NAT pools (IPv4): a few thousand phones leave through each of these addresses,
# so strangers, and residential-proxy exits running on phones, share them.
CARRIER_NAT = [
    (21928, "172.56.0.0/14"),  # T-Mobile US
    (22394, "174.192.0.0/10"),  # Verizon Wireless
    (3209, "109.40.0.0/13"),  # Vodafone DE
    (12430, "37.11.0.0/16"),  # Vodafone ES
    (45609, "223.176.0.0/12"),  # Bharti mobile
    (9808, "117.136.0.0/13"),  # China Mobile
    (2856, "31.94.0.0/16"),  # BT / EE mobile
]
# Cloud and hosting: enterprise egress, developer boxes, proxy and VPN exits.
HOSTING = [
    (16509, "3.0.0.0/9"),  # Amazon
    (14618, "54.144.0.0/12"),  # Amazon
    (15169, "34.64.0.0/10"),  # Google
    (396982, "35.184.0.0/13"),  # Google Cloud
    (8075, "20.0.0.0/11"),  # Microsoft
    (14061, "159.65.0.0/16"),  # DigitalOcean
    (16276, "51.68.0.0/16"),  # OVH
    (24940, "88.198.0.0/16"),  # Hetzner
    (63949, "172.104.0.0/15"),  # Linode
    (20473, "45.32.0.0/16"),  # Vultr
    (45102, "47.74.0.0/15"),  # Alibaba
    (132203, "43.128.0.0/12"),  # Tencent
    (51167, "5.189.128.0/17"),  # Contabo
]
# Commercial VPN exits (hosting ASNs rented by VPN brands).
VPN = [
    (9009, "185.206.224.0/22"),  # M247
    (212238, "185.156.172.0/22"),  # Datacamp / CDN77
    (136787, "103.108.228.0/22"),  # TEFINCOM
    (60068, "89.187.160.0/19"),  # Datacamp
]
# Research and education networks (campuses behind NAT, benchmark labs).
EDUCATION = [
    (786, "128.232.0.0/16"),  # Jisc
    (1103, "145.94.0.0/16"),  # SURF
    (680, "141.20.0.0/16"),  # DFN
    (11537, "128.135.0.0/16"),  # Internet2 member
    (2200, "193.48.0.0/14"),  # RENATER
    (7575, "130.56.0.0/16"),  # AARNet
]
# Business fibre: small offices.
BUSINESS = [
    (6939, "216.218.128.0/17"),  # Hurricane Electric customers
    (3356, "4.0.0.0/9"),  # Lumen
    (1299, "62.115.0.0/16"),  # Arelion
    (5400, "62.6.0.0/16"),  # BT business
]


def address(rng: random.Random, prefix: str) -> str:
    """A random host address inside ``prefix`` (never the network or broadcast address)."""
    net = ipaddress.ip_network(prefix)
    offset = rng.randrange(1, min(net.num_addresses - 1, 2**63))
    return str(net.network_address + offset)


def addresses(rng: random.Random, networks: list[tuple[int, str]], n: int) -> list[tuple[str, int]]:
    """``n`` (ip, asn) pairs drawn from the networks (each address from one random network)."""
    out = []
    for _ in range(n):
        asn, prefix = rng.choice(networks)
        out.append((address(rng, prefix), asn))
    return out


def egress_range(
    rng: random.Random, networks: list[tuple[int, str]], n: int
) -> list[tuple[str, int]]:
    """``n`` consecutive addresses of one network: a company's or campus's egress block."""
    asn, prefix = rng.choice(networks)
    start = ipaddress.ip_address(address(rng, prefix))
    net = ipaddress.ip_network(prefix)
    last = net.broadcast_address - 1
    if int(start) + n > int(last):
        start = last - n
    return [(str(start + k), asn) for k in range(n)]


BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:1{m}0.0) Gecko/20100101 Firefox/1{m}0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel {m}) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Mobile Safari/537.36",
]
APPS = [
    "AssistantApp/3.{m}.1 (iPhone; iOS 17.{m}; Scale/3.00)",
    "AssistantApp/3.{m}.0 (Android 14; SM-S91{m}B)",
    "AssistantDesktop/1.{m}.2 (Macintosh; arm64)",
    "AssistantDesktop/1.{m}.0 (Windows 11; x64)",
]
SDKS = [
    "python-httpx/0.2{m}.0",
    "python-requests/2.3{m}.0",
    "provider-python/1.{v}.0",
    "provider-node/4.{v}.1",
    "openai-compatible-client/0.{m}.3",
    "curl/8.{m}.1",
    "Go-http-client/2.0",
    "axios/1.{m}.2",
]
CODING_TOOLS = [
    "coding-agent-cli/1.{m}.{v} (node 20; darwin arm64)",
    "coding-agent-cli/1.{m}.{v} (node 22; linux x64)",
    "vscode-assistant/0.{v}.{m} (VS Code 1.9{m})",
    "jetbrains-assistant/2.{m}.0 (IntelliJ IDEA 2024.{m})",
    "aider/0.5{m}.0",
]


def user_agent(rng: random.Random, family: list[str]) -> str:
    """One concrete user agent string of a family (versions filled in)."""
    return rng.choice(family).format(v=rng.randint(118, 131), m=rng.randint(1, 9))


FREE_MAIL = [
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "gmx.de",
    "mail.ru",
    "qq.com",
    "163.com",
    "naver.com",
    "yandex.ru",
]
DISPOSABLE_MAIL = [
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.net",
    "yopmail.com",
    "sharklasers.com",
    "tempmail.lol",
    "trashmail.de",
    "dropmail.me",
    "getnada.com",
    "maildrop.cc",
    "mohmal.com",
    "emailondeck.com",
]
UNIVERSITIES = [
    "northfield.edu",
    "cam-east.ac.uk",
    "tu-westheim.de",
    "uni-lyonsud.fr",
    "kanto-tech.ac.jp",
    "pacific-state.edu",
    "lakeshore.edu",
    "hollandtech.nl",
    "sydney-inst.edu.au",
    "ritsumei-west.ac.jp",
]
COMPANY_WORDS = [
    "acme",
    "northwind",
    "globex",
    "initech",
    "umbrella",
    "stark",
    "wayne",
    "hooli",
    "vandelay",
    "soylent",
    "tyrell",
    "cyberdyne",
    "wonka",
    "oscorp",
    "pied",
    "piper",
    "blue",
    "sun",
    "river",
    "stone",
    "leaf",
    "peak",
    "harbor",
    "metric",
    "signal",
    "vector",
    "orbit",
    "kite",
    "lumen",
    "ember",
]
COMPANY_SUFFIXES = [
    "labs",
    "corp",
    "tech",
    "systems",
    "health",
    "bank",
    "logistics",
    "ai",
    "software",
    "media",
    "retail",
    "insure",
]
TLDS = [".com", ".io", ".co", ".net", ".de", ".co.uk", ".fr", ".ai"]


def company_domain(rng: random.Random) -> str:
    return (
        rng.choice(COMPANY_WORDS)
        + rng.choice(["", "-"])
        + rng.choice(COMPANY_SUFFIXES)
        + rng.choice(TLDS)
    )


# (country, UTC offset in hours, weight). The offset places a customer's day.
COUNTRIES = [
    ("US", -5, 18),
    ("US", -8, 10),
    ("US", -6, 6),
    ("GB", 0, 7),
    ("DE", 1, 6),
    ("FR", 1, 5),
    ("ES", 1, 3),
    ("NL", 1, 2),
    ("IN", 5, 7),
    ("JP", 9, 5),
    ("KR", 9, 3),
    ("BR", -3, 5),
    ("CA", -5, 3),
    ("AU", 10, 3),
    ("SG", 8, 2),
    ("PL", 1, 2),
    ("SE", 1, 1),
    ("MX", -6, 2),
    ("ID", 7, 2),
    ("NG", 1, 1),
    ("TR", 3, 2),
    ("IT", 1, 3),
    ("CN", 8, 2),
    ("VN", 7, 1),
]
RESIDENTIAL_BY_COUNTRY = {
    "US": [7922, 7018, 701],
    "CA": [812],
    "GB": [2856, 5089],
    "DE": [3320],
    "FR": [3215],
    "NL": [6830],
    "PL": [6830],
    "SE": [6830],
    "ES": [3215],
    "IT": [3215],
    "CN": [4134, 9808],
    "KR": [4766],
    "JP": [2516],
    "IN": [9498],
    "BR": [28573],
    "MX": [28573],
    "AU": [1221],
    "TR": [12389],
    "NG": [3215],
    "SG": [1221],
    "ID": [9498],
    "VN": [4134],
}
MOBILE_BY_COUNTRY = {
    "US": [21928, 22394],
    "DE": [3209],
    "ES": [12430],
    "IN": [45609],
    "CN": [9808],
    "GB": [2856],
}


def country(rng: random.Random) -> tuple[str, int]:
    """A (country, utc offset) pair, weighted like a global consumer user base."""
    code, offset, _ = rng.choices(COUNTRIES, weights=[w for *_, w in COUNTRIES])[0]
    return code, offset


def home_networks(
    rng: random.Random, code: str, carrier_nat: list[tuple[str, int]] | None = None
) -> list[tuple[str, int]]:
    """A household's addresses: one or two broadband addresses and often a phone's.

    With ``carrier_nat`` (the data set's shared CGNAT addresses), a phone on a carrier of the
    customer's country is often behind one of them, so unrelated customers share addresses.
    """
    asns = set(RESIDENTIAL_BY_COUNTRY.get(code, [7922]))
    home = [n for n in RESIDENTIAL if n[0] in asns] or RESIDENTIAL
    out = addresses(rng, home, rng.choice([1, 1, 1, 2]))
    if rng.random() < 0.6:
        carriers = set(MOBILE_BY_COUNTRY.get(code, []))
        shared = [a for a in carrier_nat or [] if a[1] in carriers]
        if shared and rng.random() < 0.6:
            out.append(rng.choice(shared))
        else:
            out += addresses(rng, [n for n in MOBILE if n[0] in carriers] or home, 1)
    return out
