#!/usr/bin/env python3
"""Writes the tiny geolocation fixtures the GeoTests read (all of them, into this script's directory).

    pip install mmdb-writer==0.2.7 netaddr
    python3 Tests/Fixtures/geo/make-geo-fixtures.py

The data is made up but shaped like the real databases: test-city.mmdb has GeoLite2-City's fields
(country.iso_code, country.names.en, city.names.en, registered_country), test-asn.mmdb GeoLite2-ASN's
(autonomous_system_number as uint32, autonomous_system_organization). Private, loopback and documentation
networks are deliberately mapped to Antarctica (AQ) / AS64512 "Canary": the locator must never look those up,
so a test that sees AQ there has caught a leak. The build epoch is pinned so that re-running gives the same bytes.
"""

from pathlib import Path

from mmdb_writer import MMDBWriter, MmdbU32
from netaddr import IPSet

HERE = Path(__file__).resolve().parent
BUILD_EPOCH = 1767225600  # 2026-01-01T00:00:00Z


class PinnedWriter(MMDBWriter):
    """mmdb-writer stamps time.time() into the metadata; pin it for reproducible files."""

    def _build_meta(self):
        meta = super()._build_meta()
        meta["build_epoch"] = BUILD_EPOCH
        return meta


def place(code, name, city=None):
    record = {"country": {"iso_code": code, "names": {"en": name}}}
    if city:
        record["city"] = {"names": {"en": city}}
    return record


CANARY_PLACE = place("AQ", "Antarctica", "Canary")
CANARY_AS = {"autonomous_system_number": MmdbU32(64512), "autonomous_system_organization": "Canary"}
# Networks the locator must never look up (private, loopback, link-local, CGNAT, documentation, unique local).
NOT_PUBLIC = [
    "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "192.0.2.0/24", "192.168.0.0/16",
    "fc00::/7", "2001:db8::/32",
]


def write_city():
    writer = PinnedWriter(
        ip_version=6, ipv4_compatible=True, database_type="Wirewatch-Test-City",
        languages=["en"], description="Wirewatch test fixture: made-up City data",
    )
    writer.insert_network(IPSet(["8.8.8.0/24"]), place("US", "United States", "Mountain View"))
    writer.insert_network(IPSet(["81.2.69.0/24"]), place("GB", "United Kingdom", "London"))
    writer.insert_network(IPSet(["2001:4860::/32"]), place("US", "United States"))
    # No `country`, only `registered_country`, as GeoLite2 has for some anycast networks.
    writer.insert_network(IPSet(["1.1.1.0/24"]), {"registered_country": {"iso_code": "AU", "names": {"en": "Australia"}}})
    writer.insert_network(IPSet(NOT_PUBLIC), CANARY_PLACE)
    writer.to_db_file(str(HERE / "test-city.mmdb"))


def write_asn():
    writer = PinnedWriter(
        ip_version=6, ipv4_compatible=True, database_type="Wirewatch-Test-ASN",
        languages=["en"], description="Wirewatch test fixture: made-up ASN data",
    )
    google = {"autonomous_system_number": MmdbU32(15169), "autonomous_system_organization": "Google LLC"}
    writer.insert_network(IPSet(["8.8.8.0/24", "2001:4860::/32"]), google)
    writer.insert_network(
        IPSet(["1.1.1.0/24"]),
        {"autonomous_system_number": MmdbU32(13335), "autonomous_system_organization": "Cloudflare, Inc."},
    )
    # An AS number with no organisation.
    writer.insert_network(IPSet(["81.2.69.0/24"]), {"autonomous_system_number": MmdbU32(20712)})
    writer.insert_network(IPSet(NOT_PUBLIC), CANARY_AS)
    writer.to_db_file(str(HERE / "test-asn.mmdb"))


def write_country_v4():
    """An IPv4-only Country database: IPv6 lookups in it must find nothing, not fail."""
    writer = PinnedWriter(
        ip_version=4, database_type="Wirewatch-Test-Country",
        languages=["en"], description="Wirewatch test fixture: IPv4-only Country data",
    )
    writer.insert_network(IPSet(["9.9.9.0/24"]), place("CH", "Switzerland"))
    writer.insert_network(IPSet(["8.8.8.0/24"]), place("CA", "Canada", "Second Opinion"))
    writer.to_db_file(str(HERE / "test-country-v4.mmdb"))


def write_unknown_type():
    """A valid MaxMind DB whose database_type is neither location nor ASN."""
    writer = PinnedWriter(
        ip_version=4, database_type="Wirewatch-Test-Weather",
        languages=["en"], description="Wirewatch test fixture: unknown database type",
    )
    writer.insert_network(IPSet(["8.8.8.0/24"]), {"sky": "blue"})
    writer.to_db_file(str(HERE / "test-unknown-type.mmdb"))


TOR_V4 = """\
# Test fixture in the format of Debian tor-geoipdb's usr/share/tor/geoip:
# FROM,TO,CC with the IPv4 bounds as decimal integers; "??" is unknown.
#
# 10.0.0.0-10.255.255.255: a private range mapped anyway, which must never be looked up
167772160,184549375,AQ
# 8.8.8.0-8.8.8.255
134744064,134744319,US
# 81.2.69.0-81.2.69.255, written the way IPFire writes the United Kingdom
1359103232,1359103487,UK
# 9.9.9.0-9.9.9.255, unknown
151587072,151587327,??

# 1.1.1.0-1.1.1.255, lower case and a CRLF line end
16843008,16843263,au\r
"""

TOR_V6 = """\
# Test fixture in the format of Debian tor-geoipdb's usr/share/tor/geoip6:
# FROM,TO,CC with IPv6 text bounds.
2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,US
2a00:1450::,2a00:1450:ffff:ffff:ffff:ffff:ffff:ffff,IE
fc00::,fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,AQ
"""


def write_tor():
    # Named as in the package, so that a test can hand this directory to GeoLocator.default(torDirectories:).
    (HERE / "tor").mkdir(exist_ok=True)
    (HERE / "tor" / "geoip").write_bytes(TOR_V4.encode())
    (HERE / "tor" / "geoip6").write_bytes(TOR_V6.encode())


if __name__ == "__main__":
    write_city()
    write_asn()
    write_country_v4()
    write_unknown_type()
    write_tor()
    for path in sorted([*HERE.glob("*.mmdb"), *HERE.glob("tor/geoip*")]):
        print(f"{path.relative_to(HERE)}: {path.stat().st_size} bytes")
