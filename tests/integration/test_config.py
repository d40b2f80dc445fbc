"""`apache2 -t` rejects invalid IssueTracker* directives with a clear message."""
import os
import subprocess
import tempfile

import pytest

from conftest import ROOT

MODULE = os.path.join(ROOT, "mod_issuetracker", ".libs", "mod_issuetracker.so")

TEMPLATE = """
ServerRoot "/etc/apache2"
Listen 127.0.0.1:1
PidFile "{tmp}/httpd.pid"
ErrorLog "{tmp}/error.log"
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dbd_module /usr/lib/apache2/modules/mod_dbd.so
LoadModule issuetracker_module "{module}"
{server}
<Location /api/v1>
    SetHandler issuetracker
    {directive}
</Location>
"""


def configtest(directive="", server=""):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "httpd.conf")
        with open(path, "w") as f:
            f.write(TEMPLATE.format(tmp=tmp, module=MODULE, directive=directive, server=server))
        return subprocess.run(["/usr/sbin/apache2", "-t", "-f", path],
                              capture_output=True, text=True)


VALID = [
    "IssueTrackerPageSizeMax 100",
    "IssueTrackerMaxUploadSize 25M",
    "IssueTrackerMaxBodySize 512K",
    "IssueTrackerAllowedTypes image/png application/pdf",
    "IssueTrackerRequireVersion Off",
    "IssueTrackerPreparedStatements Off",
    "IssueTrackerTokenSecret 0123456789abcdef0123456789abcdef",
    "IssueTrackerTokenTTL 900",
    "IssueTrackerRoleClaim roles",
    "IssueTrackerAutoProvision On",
    "IssueTrackerMaxImportRows 5000",
    "IssueTrackerUploadDir /var/lib/issuetracker/uploads",
    "IssueTrackerRetryAfter 5",
    "IssueTrackerBcryptCost 10",
]

INVALID = [
    ("IssueTrackerPageSizeMax 0", "IssueTrackerPageSizeMax"),
    ("IssueTrackerPageSizeMax 1001", "between 1 and 1000"),
    ("IssueTrackerPageSizeMax lots", "not an integer"),
    ("IssueTrackerMaxUploadSize 10X", "IssueTrackerMaxUploadSize"),
    ("IssueTrackerMaxUploadSize -5", "IssueTrackerMaxUploadSize"),
    ("IssueTrackerMaxBodySize 0", "IssueTrackerMaxBodySize"),
    ("IssueTrackerAllowedTypes png", "not a media type"),
    ("IssueTrackerRequireVersion maybe", "IssueTrackerRequireVersion"),
    ("IssueTrackerPreparedStatements sometimes", "IssueTrackerPreparedStatements"),
    ("IssueTrackerTokenSecret short", "at least 32 characters"),
    ("IssueTrackerTokenTTL 5", "IssueTrackerTokenTTL"),
    ("IssueTrackerRoleClaim 'a b'", "not a claim name"),
    ("IssueTrackerMaxImportRows 0", "IssueTrackerMaxImportRows"),
    ("IssueTrackerUploadDir relative/dir", "absolute path"),
    ("IssueTrackerRetryAfter 0", "IssueTrackerRetryAfter"),
    ("IssueTrackerBcryptCost 3", "IssueTrackerBcryptCost"),
]


@pytest.mark.parametrize("directive", VALID)
def test_valid_directive_passes_configtest(directive):
    r = configtest(directive)
    assert r.returncode == 0, r.stderr
    assert "Syntax OK" in r.stderr + r.stdout


@pytest.mark.parametrize("directive,message", INVALID)
def test_invalid_directive_fails_configtest(directive, message):
    r = configtest(directive)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_server_timeouts_are_not_allowed_per_location():
    r = configtest("IssueTrackerStatementTimeout 1000")
    assert r.returncode != 0
    assert "IssueTrackerStatementTimeout" in r.stderr


def test_server_timeout_validated():
    assert configtest(server="IssueTrackerStatementTimeout 1000").returncode == 0
    r = configtest(server="IssueTrackerStatementTimeout 0")
    assert r.returncode != 0 and "IssueTrackerStatementTimeout" in r.stderr
