"""The Last Mile tests read each page as it is at that moment: the short-lived copy of a page
(lastmile.views.PAGE_CACHE_S) is off here, and on in test_page_cache.py. The providers' fakes,
for the tests that send."""

import pytest

from lastmile import views
from tests.lastmile import fakes


@pytest.fixture(autouse=True)
def _no_page_cache(monkeypatch):
    monkeypatch.setattr(views, "PAGE_CACHE_S", 0)


@pytest.fixture
def twilio(settings):
    with fakes.FakeTwilio() as fake:
        fakes.use_twilio(settings, fake, timeout_s=0.5)
        yield fake


@pytest.fixture
def postmark(settings):
    with fakes.FakePostmark() as fake:
        fakes.use_postmark(settings, fake, timeout_s=0.5)
        yield fake
