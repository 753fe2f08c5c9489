"""Browser journey on the deliveries report: a manager opens it, filters a period, sees the chart
and downloads the XLSX, whose numbers are the data set's."""

import openpyxl
import pytest

from accounts.models import Role
from tests import factories as f
from tests.helpers import log_in
from tests.reports.test_deliveries import TOTALS, build_dataset, check_workbook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_filters_the_deliveries_report_and_downloads_the_xlsx(page, password, tmp_path):
    account = f.AccountFactory(slug="acme-reports", name="Acme Entregas")
    manager = f.UserFactory(account=account, role=Role.MANAGER, email="boss@acme.test")
    build_dataset(account)

    log_in(page, manager.email, password)
    page.wait_for_url("**/")
    page.get_by_role("link", name="Reports", exact=True).first.click()
    page.wait_for_url("**/reports/")
    page.get_by_role("link", name="Deliveries").click()
    page.wait_for_url("**/reports/deliveries/")
    # The default period (the last 7 days) holds none of the data set's services.
    assert page.get_by_test_id("total-total").inner_text() == "0"

    page.get_by_label("From", exact=True).fill("2030-03-04")
    page.get_by_label("To", exact=True).fill("2030-03-05")
    with page.expect_response(lambda response: "/reports/deliveries/?" in response.url):
        page.get_by_test_id("apply-filters").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=total-total]').textContent.trim() === '11'"
    )
    assert page.get_by_test_id("total-done").inner_text() == str(TOTALS[1])
    assert "date_from=2030-03-04" in page.url

    # The chart is drawn by Chart.js, with the two days and three series.
    assert page.get_by_test_id("deliveries-chart").is_visible()
    chart = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById('deliveries-chart'));
          return chart && {labels: chart.data.labels, series: chart.data.datasets.length};
        }"""
    )
    assert chart == {"labels": ["2030-03-04", "2030-03-05"], "series": 3}
    # Chart.js sized the canvas to its box (a canvas left at its default 300 px is blank).
    page.wait_for_function(
        "document.getElementById('deliveries-chart').getBoundingClientRect().width > 300"
    )

    with page.expect_download() as download_info:
        page.get_by_test_id("export-xlsx").click()
    download = download_info.value
    assert download.suggested_filename == "deliveries-2030-03-04-2030-03-05.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    check_workbook(openpyxl.load_workbook(path))
