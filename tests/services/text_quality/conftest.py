"""Fixtures of the content-quality tests: the built model and a real ZhihuLiveDB record."""
from __future__ import annotations

from pathlib import Path

import pytest

from xcloud import names

MODEL = names.ZHIHU_MTBDNN
# The second row of zhihu_live.csv (a Live with 13 reviews, rated 4.54), field by field.
EXAMPLE = {
    "duration": 3600, "reply_message_count": 3, "source": 1, "purchasable": True,
    "is_refundable": True, "has_authenticated": False, "user_type": 1, "gender": 1, "badge": 0,
    "speaker_audio_message_count": 85, "attachment_count": 65, "liked_num": 31,
    "is_commercial": False, "audition_message_count": 15, "is_audition_open": True,
    "seats_taken": 1297, "seats_max": 10000, "speaker_message_count": 153, "amount": 1990,
    "original_price": 19.9, "has_audition": True, "has_feedback": False, "review_count": 13,
}


@pytest.fixture(scope="session")
def zhihu_live(shared_data) -> Path:
    if not (shared_data / "zhihu-live" / "zhihu_live.csv").is_file():
        pytest.skip(f"zhihu-live not found in {shared_data}")
    return shared_data
