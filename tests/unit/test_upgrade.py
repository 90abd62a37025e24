"""The upgrade from the names of earlier releases, decided without servers (`upgrade.plan`)."""

from __future__ import annotations

from govcloud_platform.upgrade import Action, plan


def test_plain_box_renames_reader_group_and_administrator() -> None:
    actions = plan(["health"], roles={"ag_health", "ag_health_ro", "postgres"},
                   groups={"agency-health", "agency-health-admins"}, users={"health-admin", "operator"},
                   operators={"operator"})
    assert actions == [
        Action("rename_role", "health", "ag_health_ro", "ag_health__ro"),
        Action("move_members", "health", "agency-health-admins", "agency-health--admins"),
        Action("rename_login", "health", "health-admin", "admin@health"),
    ]


def test_contested_names_stay_with_the_agency_whose_current_name_they_are() -> None:
    # echo's old reader ag_echo_ro is echo-ro's owner; health's old admins group is health-admins' member group;
    # ops-admin was an operator before agency "ops" existed
    slugs = ["echo", "echo-ro", "health", "health-admins", "ops"]
    actions = plan(slugs, roles={"ag_echo", "ag_echo_ro", "ag_echo_ro_ro"},
                   groups={"agency-health-admins", "agency-health-admins-admins"},
                   users={"health-admin", "health-admins-admin", "ops-admin"}, operators={"ops-admin"})
    assert Action("isolate_role", "echo", "ag_echo_ro", "ag_echo") in actions
    assert Action("rename_role", "echo-ro", "ag_echo_ro_ro", "ag_echo_ro__ro") in actions
    assert Action("move_members", "health", "agency-health-admins", "agency-health--admins",
                  ("health-admin", "admin@health")) in actions
    assert Action("move_members", "health-admins", "agency-health-admins-admins", "agency-health-admins--admins",
                  ()) in actions
    assert Action("strip_login", "ops", "ops-admin") in actions
    assert not any(a.kind == "rename_role" and a.old == "ag_echo_ro" for a in actions)


def test_a_converged_box_has_nothing_to_do() -> None:
    assert plan(["health"], roles={"ag_health", "ag_health__ro"}, groups={"agency-health", "agency-health--admins"},
                users={"admin@health"}, operators={"operator"}) == []
