"""A detect-secrets plugin that finds keygate API keys.

A key keygate makes is kg_, 30 random base62 characters and 6 characters
of checksum: the CRC32 (IEEE) of the 30, in base62 (0-9A-Za-z), most
significant digit first, padded with 0. The plugin reports a match only
when its checksum is right, so a typo or a made-up look-alike is not
reported. The checksum proves a key well formed, not genuine: anyone can
compute one.

    detect-secrets scan --plugin keygate_detect_secrets.py .

See docs/security.md ("Keys secret scanners can find") in keygate.
"""
import re
import zlib

from detect_secrets.plugins.base import RegexBasedDetector

# The same expression as docs/security.md's; re.ASCII makes \b mean what it
# means to gitleaks (Go) and GitHub, whose word characters are ASCII only.
PATTERN = r'\bkg_[0-9A-Za-z]{36}\b'

BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'


def checksum(random: str) -> str:
    """The 6 base62 digits of the CRC32 of a key's 30 random characters."""
    n = zlib.crc32(random.encode('ascii'))
    digits = ''
    for _ in range(6):
        n, d = divmod(n, 62)
        digits = BASE62[d] + digits
    return digits


def well_formed(key: str) -> bool:
    """Whether key (a match of PATTERN) ends in the checksum of its 30."""
    random, check = key[3:33], key[33:]
    return checksum(random) == check


class KeygateKeyDetector(RegexBasedDetector):
    """Scans for keygate API keys (kg_...) whose checksum matches."""
    # The pragma: detect-secrets' keyword plugin takes this line for a secret.
    secret_type = 'keygate API key'  # pragma: allowlist secret

    denylist = [re.compile(PATTERN, re.ASCII)]

    def analyze_string(self, string):
        for match in super().analyze_string(string):
            if well_formed(match):
                yield match
