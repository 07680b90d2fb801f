from __future__ import annotations

import time

import pytest

from signaling.exceptions import TokenExpired, TokenInvalid, TokenMissing
from signaling.tokens import mint_token, verify_token

SECRET = "s" * 40


def test_round_trip_carries_every_claim():
    token, exp = mint_token(SECRET, session_id="bio", user_id="ada", name="Ada L", role="teacher",
                            ttl_s=60)
    who = verify_token(SECRET, token)
    assert (who.session_id, who.user_id, who.name, who.role) == ("bio", "ada", "Ada L", "teacher")
    assert who.expires_at == exp and who.is_staff


@pytest.mark.parametrize("token,error", [(None, TokenMissing), ("", TokenMissing),
                                         ("abc.def.ghi", TokenInvalid), ("nonsense", TokenInvalid)])
def test_missing_and_garbage(token, error):
    with pytest.raises(error):
        verify_token(SECRET, token)


def test_forged_signature_says_so():
    token, _ = mint_token("x" * 40, session_id="s", user_id="u", name="", role="admin", ttl_s=60)
    with pytest.raises(TokenInvalid, match="signature"):
        verify_token(SECRET, token)


def test_expired_beyond_leeway():
    token, _ = mint_token(SECRET, session_id="s", user_id="u", name="", role="student", ttl_s=10,
                          now_s=time.time() - 100)
    with pytest.raises(TokenExpired):
        verify_token(SECRET, token)


def test_unknown_role_cannot_be_minted():
    with pytest.raises(ValueError, match="role"):
        mint_token(SECRET, session_id="s", user_id="u", name="", role="king", ttl_s=10)


def test_token_with_unknown_role_is_refused():
    import jwt

    token = jwt.encode({"iss": "classroom-rtc", "sid": "s", "sub": "u", "role": "king",
                        "iat": int(time.time()), "exp": int(time.time()) + 60}, SECRET)
    with pytest.raises(TokenInvalid, match="role"):
        verify_token(SECRET, token)
