import pytest
from django.http import Http404

from accounts import access
from accounts.models import Branch, Role
from tests.factories import BranchFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "sections"),
    [
        (
            Role.MANAGER,
            ["services", "routes", "tracking", "schedule", "reports", "chat", "settings"],
        ),
        (Role.OPERATOR, ["services", "routes", "tracking", "schedule", "chat", "settings"]),
        (Role.PARTNER, ["reports"]),
        (Role.CARRIER, ["services", "tracking", "reports", "settings"]),
        (Role.CALL_CENTRE, ["chat"]),
        (Role.INTEGRATION, []),
    ],
)
def test_sections_per_role(account_a, role, sections):
    assert access.sections_for(UserFactory(account=account_a, role=role)) == sections


def test_scope_keeps_the_users_account_only(manager_a, manager_b):
    mine = BranchFactory(account=manager_a.account)
    BranchFactory(account=manager_b.account)
    assert list(access.scope(manager_a, Branch.objects.all())) == [mine]


def test_inactive_users_see_nothing(manager_a):
    BranchFactory(account=manager_a.account)
    manager_a.is_active = False
    assert not access.scope(manager_a, Branch.objects.all()).exists()


def test_another_accounts_object_is_not_found(manager_a, manager_b):
    theirs = BranchFactory(account=manager_b.account)
    with pytest.raises(Http404):
        access.get_object_or_404(manager_a, Branch.objects.all(), pk=theirs.pk)


def test_a_model_without_an_account_is_refused(manager_a):
    from django.contrib.auth.models import Group

    with pytest.raises(TypeError):
        access.scope(manager_a, Group.objects.all())


def test_platform_admins_see_every_account(manager_a, manager_b):
    from accounts.models import User

    admin = User.objects.create_superuser("root@platform.test", "pw")
    BranchFactory(account=manager_a.account)
    BranchFactory(account=manager_b.account)
    assert access.scope(admin, Branch.objects.all()).count() == 2
    assert access.can_use_admin(admin)
