"""The Last Mile tests read each page as it is at that moment: the short-lived copy of a page
(lastmile.views.PAGE_CACHE_S) is off here, and on in test_page_cache.py."""

import pytest

from lastmile import views


@pytest.fixture(autouse=True)
def _no_page_cache(monkeypatch):
    monkeypatch.setattr(views, "PAGE_CACHE_S", 0)
