"""An org of any size, built from the fixture (``presence-manager sim --agents N``).

:func:`scaled_fixture` keeps the fixture's organization, OAuth clients, settings, presence definitions, skills and
schedule patterns, and replaces its business units and users:

- one business unit per time zone of :data:`ZONES` (America/New_York, Europe/London, Asia/Tokyo), each with a copy of
  the fixture's first business unit's activity codes (own ids, the same secondary presences);
- ``management_units`` management units (default :func:`default_management_units`: at least two per business unit,
  at most about 1,000 agents each), spread round-robin over the business units; agents fill them in contiguous
  blocks of (nearly) equal size;
- ``agents`` agents, every one in a management unit. The agent at position ``p`` of a management unit takes the
  profile (schedule pattern, presence, routing status, message, skills) of the fixture's ``p mod 20``-th management
  unit agent, the profiles interleaved by pattern, so every management unit of 20 or more agents has every pattern
  of the fixture (on queue, on a break, in a meeting, in training, off-queue work, off shift, overnight across
  local midnight, full-day time off) in the fixture's proportions.

Ids are deterministic (uuid5 of the position), so the same ``--agents`` gives the same ids on every start and reset.
The users are built without pydantic validation (they are consistent by construction): 10,000 agents take well
under a second.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from presence_manager_local.simulator.fixture import (
    ActivityCodeSpec,
    BusinessUnitSpec,
    Fixture,
    ManagementUnitSpec,
    UserSpec,
)

SCALE_NAMESPACE = uuid.UUID("0c7d1f3e-6a25-4f1b-8d0e-2b9a4c5e7f10")
ZONES: tuple[tuple[str, str], ...] = (
    ("America/New_York", "North America"),
    ("Europe/London", "Europe"),
    ("Asia/Tokyo", "Asia Pacific"),
)
AGENTS_PER_MANAGEMENT_UNIT = 1000
TEAMS = ("Tier 1", "Tier 2", "Billing", "Sales", "Retention", "Premium", "Email", "Chat")
FIRST_NAMES = (
    "Olivia", "Marcus", "Priya", "James", "Sofia", "Daniel", "Aisha", "Lucas", "Emma", "Noah", "Grace", "Ethan",
    "Hannah", "Mateo", "Mia", "Chloe", "Ryan", "Yuki", "Isabella", "Benjamin", "Amara", "Kenji", "Leila", "Oscar",
    "Zara", "Tomas", "Ingrid", "Ravi", "Nora", "Felix", "Sakura", "Diego",
)  # fmt: skip
LAST_NAMES = (
    "Bennett", "Chen", "Raman", "O'Connor", "Alvarez", "Kim", "Mohammed", "Ferreira", "Schulz", "Williams", "Okafor",
    "Brooks", "Lindqvist", "Rossi", "Johansson", "Dubois", "Patel", "Tanaka", "Costa", "Adeyemi", "Novak", "Haddad",
    "Murphy", "Nakamura", "Silva", "Kowalski", "Andersen", "Ibrahim", "Moreau", "Yilmaz", "Singh", "Garcia",
)  # fmt: skip


def default_management_units(agents: int) -> int:
    """Two per business unit, more when that would exceed :data:`AGENTS_PER_MANAGEMENT_UNIT` agents each (never more
    management units than agents)."""
    wanted = max(2 * len(ZONES), -(-agents // AGENTS_PER_MANAGEMENT_UNIT))
    return max(1, min(agents, wanted))


def _id(*parts: object) -> str:
    return str(uuid.uuid5(SCALE_NAMESPACE, "/".join(str(p) for p in parts)))


def _profiles(base: Fixture) -> list[UserSpec]:
    """The fixture's management-unit agents, interleaved by schedule pattern (round-robin over the patterns in the
    order they first appear), so that a short prefix already has every pattern."""
    by_pattern: dict[str, list[UserSpec]] = defaultdict(list)
    for user in base.users:
        if user.management_unit_id is not None:
            by_pattern[user.schedule_pattern].append(user)
    queues = list(by_pattern.values())
    profiles: list[UserSpec] = []
    while any(queues):
        for queue in queues:
            if queue:
                profiles.append(queue.pop(0))
    if not profiles:
        raise ValueError("the fixture has no agent in a management unit to scale from")
    return profiles


def _business_unit(template: BusinessUnitSpec, index: int, zone: str, region: str) -> BusinessUnitSpec:
    codes = [
        ActivityCodeSpec.model_construct(**{**code.__dict__, "id": _id("bu", index, "code", code.id)})
        for code in template.activity_codes
    ]
    return BusinessUnitSpec.model_construct(
        id=_id("bu", index),
        name=f"{region} Contact Center",
        time_zone=zone,
        start_day_of_week=template.start_day_of_week,
        activity_codes=codes,
        management_units=[],
    )


def scaled_fixture(base: Fixture, agents: int, management_units: int | None = None) -> Fixture:
    """``base`` with ``agents`` agents over ``management_units`` management units and up to three business units in
    different time zones (see the module docstring)."""
    if agents < 1:
        raise ValueError("agents must be at least 1")
    unit_count = management_units if management_units is not None else default_management_units(agents)
    if not 1 <= unit_count <= agents:
        raise ValueError("managementUnits must be between 1 and the number of agents")
    if not base.business_units:
        raise ValueError("the fixture has no business unit to copy activity codes from")
    template = base.business_units[0]
    zones = ZONES[: min(len(ZONES), unit_count)]
    units = [_business_unit(template, i, zone, region) for i, (zone, region) in enumerate(zones)]
    profiles = _profiles(base)
    users: list[UserSpec] = []
    size, extra = divmod(agents, unit_count)
    teams_seen: dict[int, int] = defaultdict(int)
    for mu_index in range(unit_count):
        unit_index = mu_index % len(units)
        unit = units[unit_index]
        team = TEAMS[teams_seen[unit_index] % len(TEAMS)]
        teams_seen[unit_index] += 1
        mu = ManagementUnitSpec.model_construct(id=_id("mu", mu_index), name=f"{zones[unit_index][1]} {team}")
        unit.management_units.append(mu)
        for position in range(size + (1 if mu_index < extra else 0)):
            number = len(users)
            profile = profiles[position % len(profiles)]
            first = FIRST_NAMES[number % len(FIRST_NAMES)]
            last = LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)]
            users.append(
                UserSpec.model_construct(
                    id=_id("agent", number),
                    name=f"{first} {last}",
                    email=f"{first}.{last}.{number + 1}@example.com".lower().replace("'", ""),
                    department="Customer Care",
                    schedule_pattern=profile.schedule_pattern,
                    presence=profile.presence,
                    presence_off_shift=profile.presence_off_shift,
                    message=profile.message,
                    routing_status=profile.routing_status,
                    skills=profile.skills,
                    management_unit_id=mu.id,
                )
            )
    return Fixture.model_construct(
        description=f"{agents} agents generated from the fixture by scaled_fixture()",
        organization=base.organization,
        oauth_clients=base.oauth_clients,
        settings=base.settings,
        presence_definitions=base.presence_definitions,
        skills=base.skills,
        business_units=units,
        schedule_patterns=base.schedule_patterns,
        users=users,
    )
