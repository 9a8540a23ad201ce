"""The called number and the asserted caller read from an INVITE as a carrier sends it."""

from __future__ import annotations

import pytest

from ivr.telephony.sipmsg import header, request_user, uri_user

pytestmark = pytest.mark.unit

INVITE = (
    "INVITE sip:442079460100@10.1.2.3:5060;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK-1\r\n"
    'f: "Withheld" <sip:anonymous@anonymous.invalid>;tag=1\r\n'
    "To: <sip:+442079460000@carrier.example>\r\n"
    "P-Asserted-Identity: <tel:+447700900123>\r\n"
    "Content-Length: 0\r\n\r\n"
    "P-Asserted-Identity: <tel:+1999>\r\n"
)


def test_the_number_called_is_the_request_uris_user_not_the_to_header():
    assert request_user(INVITE) == "442079460100"
    assert uri_user(header(INVITE, "To")) == "+442079460000"


def test_the_asserted_caller_and_compact_headers_are_read_from_the_head_only():
    assert uri_user(header(INVITE, "P-Asserted-Identity")) == "+447700900123"
    assert uri_user(header(INVITE, "from")) == "anonymous"
    assert header(INVITE, "X-Missing") == ""


@pytest.mark.parametrize(
    "uri,user",
    [
        ('"Ann" <sip:+447700900001@host>;tag=x', "+447700900001"),
        ("sips:hotline@127.0.0.1:5061;transport=tls", "hotline"),
        ("<tel:+44-20-7946-0000;phone-context=example>", "+44-20-7946-0000"),
        ("sip:127.0.0.1:5060", ""),
        ("mailto:someone@example.com", ""),
    ],
)
def test_a_uri_user(uri, user):
    assert uri_user(uri) == user


def test_a_response_has_no_request_user():
    assert request_user("SIP/2.0 200 OK\r\n\r\n") == ""
