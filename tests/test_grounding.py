"""evidence/grounding.py on hand-written runs, the paper's copper-wire example and real
tau-bench airline runs (shared fixture, read with plain json)."""
import json
from pathlib import Path

import pytest

from agenther_local.evidence import grounding
from agenther_local.evidence.grounding import EvidenceIndex, check_grounding, evidence_index
from agenther_local.trajectory import Step, Trajectory

TAU = Path("/work/shared/fixtures/tau_bench_airline/gpt-4o-airline.part1of3.json")


def tool(action: str, observation: str, **action_input) -> Step:
    return Step(thought="", action=action, action_input=action_input, observation=observation)


def user(text: str) -> Step:
    return Step(thought="", action="user", action_input={}, observation=text, role="user")


def missing(g) -> list[str]:
    return [s.text for s in g.missing]


# ------------------------------------------------------------------ the paper's example

COPPER = Trajectory(
    id="copper", goal="Find copper wire suppliers with prices under $5/kg and MOQ below 100 kg",
    steps=(
        tool("search", "7 results: Acme Copper, Baltic Wire, Cobre Andino, Delta Metals, "
                       "Eagle Cable, Fuji Densen, Gulf Wire", q="copper wire suppliers"),
        tool("open", "Acme Copper - bare copper wire: $6.10/kg, MOQ 500 kg, lead time 10 days"),
        tool("open", "Baltic Wire - $5.90/kg, minimum order 1,000 kg, rated 4.5/5"),
        tool("open", '{"supplier": "Delta Metals", "price_usd_per_kg": 5.30, "moq_kg": 50}'),
        tool("open", "Eagle Cable - $7.25/kg, MOQ 200 kg"),
    ),
    # the agent's own words name values no tool returned
    final_answer="No supplier is under $5/kg; Delta Metals at $5.30/kg has the lowest MOQ, 10kg.",
)


@pytest.mark.parametrize("goal, grounded, absent", [
    # the original, failed goal: its constraints were never met
    ("Find copper wire suppliers with prices under $5 per kilogram and minimum order "
     "quantities below 10kg", False, ["$5 per kilogram", "10kg"]),
    # the hindsight goal of the paper: no specifics, nothing to check
    ("Compare copper wire suppliers by price and MOQ and report the one with the lowest MOQ",
     True, []),
    ("Find a copper wire supplier selling at $5.30/kg", True, []),
    ("Report Delta Metals, which sells copper wire at $5.30/kg with an MOQ of 50 kg", True, []),
    ("Compare Acme Copper ($6.10/kg) and Eagle Cable ($7.25/kg)", True, []),
    # perturbations: one value changed
    ("Find a copper wire supplier selling at $5.20/kg", False, ["$5.20/kg"]),
    ("Report Delta Metals, which sells copper wire at $5.30/kg with an MOQ of 40 kg", False, ["40 kg"]),
    ("Report Delta Steel, which sells copper wire at $5.30/kg", False, ["Delta Steel"]),
])
def test_copper_wire(goal, grounded, absent):
    g = check_grounding(goal, COPPER)
    assert g.is_grounded is grounded
    assert missing(g) == absent


def test_final_answer_is_not_evidence_unless_passed():
    goal = "Report the supplier with an MOQ of 10kg"
    assert missing(check_grounding(goal, COPPER)) == ["10kg"]
    g = check_grounding(goal, COPPER, extra_evidence=(COPPER.final_answer,))
    assert g.is_grounded
    assert g.evidence == (("10kg", -1, 73, 77),)       # extra evidence k is step -(k + 1)


# ------------------------------------------------------------------ what is evidence

RUN = Trajectory(
    id="run", goal="Book JFK to SEA on May 20 with 3 bags",
    steps=(
        user("My user id is mia_li_3668 and I fly on May 21 with 2 bags, reservation ZZZ999."),
        Step(thought="The customer surely wants HAT999.", action="search_direct_flight",
             action_input={"origin": "JFK", "destination": "SEA", "date": "2024-05-22"},
             observation='[{"flight_number": "HAT069", "origin": "JFK", "destination": "SEA", '
                         '"date": "2024-05-20"}]'),
        tool("get_user_details", '{"user_id": "mia_li_3668", "name": {"first_name": "Mia", '
                                 '"last_name": "Li"}, "total_baggages": 3}'),
    ),
    final_answer="Booked HAT777 on May 23.",
)


@pytest.mark.parametrize("goal, absent", [
    ("Book HAT069 from JFK to SEA on May 20 for Mia Li (mia_li_3668) with 3 bags", []),
    ("Book HAT069 on May 21", ["May 21"]),          # said by the user only
    ("Book HAT069 with 2 bags", ["2"]),             # said by the user only
    ("Change reservation ZZZ999", ["ZZZ999"]),      # said by the user only
    ("Book HAT999", ["HAT999"]),                    # the agent's thought
    ("Book a flight on May 22", ["May 22"]),        # the agent's tool-call argument
    ("Book HAT777 on May 23", ["HAT777", "May 23"]),  # the agent's final answer
])
def test_only_tool_outputs_are_evidence(goal, absent):
    assert missing(check_grounding(goal, RUN)) == absent


DEMO = {json.loads(l)["id"]: json.loads(l) for l in
        (Path(__file__).resolve().parents[1] / "examples" / "demo.jsonl").read_text().splitlines()}


@pytest.mark.parametrize("run, goal, absent", [
    # the search echoes its filter in "No flights match max_stops=0 and max_price=250."
    ("demo03_flight_bos_den", "Find the cheapest nonstop flight from BOS to DEN on 2024-11-15 for at most $250", ["$250"]),
    ("demo03_flight_bos_den", "Find the lowest nonstop fare from BOS to DEN on 2024-11-15: $289.00", []),
    # "0 results match: Screen 14\" | RAM 32 GB | Price <= $900."
    ("demo02_laptop_cart", "Find a 14-inch laptop with 32 GB RAM under $900", ["$900"]),
    ("demo02_laptop_cart", "Find the nearest match, the HP Pavilion Plus 14 with 32 GB at $1,049.00", []),
    # '{"slots": [], "note": "No common 60-minute slot in window 09:00-12:00 (America/Chicago)."}'
    ("demo07_calendar_meeting", "Find a 60-minute slot for Priya Raman between 09:00 and 12:00", ["60"]),
])
def test_a_report_of_nothing_found_is_not_evidence(run, goal, absent):
    assert missing(check_grounding(goal, Trajectory.from_dict(DEMO[run]))) == absent


@pytest.mark.parametrize("observation, gone, kept", [
    ("Could not find [Los Angeles Dodgers in 2007]. Similar: ['Dodgers']", "Los Angeles", "Similar: ['Dodgers']"),
    ('{"results": [], "message": "No flights match max_price=250. Lowest fare: 289.00"}', "250", "Lowest fare: 289.00"),
    ("No Results", "Results", ""),
    ("Error: payment method not found", "payment", ""),
    ("Showing 3 of 148 products (no help articles matched)", "help", "Showing 3 of 148 products"),
    ("The cheapest match is UA 100 at $228", "", "The cheapest match is UA 100 at $228"),
    ('"No Problem" is a song by Chance the Rapper (2016)', "", '"No Problem" is a song'),   # a title
])
def test_units_reporting_nothing_found_are_blanked(observation, gone, kept):
    out = grounding.without_nothing_found(observation)
    assert len(out) == len(observation) and kept in out and (not gone or gone not in out)


def test_evidence_names_step_and_span():
    g = check_grounding("Book HAT069 for Mia Li on May 20", RUN)
    assert g.is_grounded and len(g.specifics) == 3
    for text, step, start, end in g.evidence:
        assert RUN.steps[step].is_evidence
    cited = {text: RUN.steps[step].observation[start:end] for text, step, start, end in g.evidence}
    assert cited == {"HAT069": "HAT069", "Mia Li": 'Mia", "last_name": "Li', "May 20": "2024-05-20"}


def test_a_goal_without_specifics_is_grounded():
    g = check_grounding("Look up the flights the customer asked about", RUN)
    assert g.is_grounded and g.specifics == () and g.reason() == "grounded (0 specifics)"


def test_reason_names_the_missing_values():
    assert check_grounding("Book HAT070 on May 21", RUN).reason() == \
        "missing: 'HAT070' (code), 'May 21' (date)"


def test_index_is_built_once_per_trajectory(monkeypatch):
    built = []
    real = grounding.EvidenceIndex.__init__

    def counting(self, traj, extra_evidence=()):
        built.append(traj.id)
        real(self, traj, extra_evidence)

    monkeypatch.setattr(grounding, "_INDEXES", {})
    monkeypatch.setattr(grounding.EvidenceIndex, "__init__", counting)
    for goal in ("Book HAT069", "Book HAT070", "Fly on May 20"):
        check_grounding(goal, RUN)
    check_grounding("Book HAT069", RUN, extra_evidence=("HAT070",))
    assert built == ["run"]
    assert evidence_index(RUN) is evidence_index(RUN)


def test_an_explicit_index_is_used():
    index = EvidenceIndex(RUN, extra_evidence=("ZZZ999 was cancelled",))
    assert check_grounding("Cancel ZZZ999", RUN, index=index).evidence == (("ZZZ999", -1, 0, 6),)


# ------------------------------------------------------------------ real tau-bench runs

def tau_trajectory(item: dict) -> Trajectory:
    """A tau-bench record -> Trajectory, by hand (the adapter is not under test here).

    Subtle: tau-bench reuses tool_call ids within a run, so a tool message is paired with the
    pending calls of the last assistant message in order, not by id.
    """
    steps, pending, final, seen_user = [], [], "", False
    for m in item["traj"][1:]:                      # traj[0] is the system policy
        if m["role"] == "tool":
            call = pending.pop(0)["function"]
            steps.append(Step(thought="", action=call["name"],
                              action_input=json.loads(call["arguments"] or "{}"),
                              observation=m["content"] or ""))
        elif m["role"] == "user":
            if seen_user:                           # the first user turn states the task
                steps.append(user(m["content"] or ""))
            seen_user = True
        elif m["role"] == "assistant":
            pending = list(m.get("tool_calls") or [])
            if m.get("content") and not pending:
                final = m["content"]
    return Trajectory(id=str(item["task_id"]), goal=item["info"]["task"]["instruction"],
                      steps=tuple(steps), final_answer=final, reward=item["reward"])


@pytest.fixture(scope="module")
def tau():
    return [tau_trajectory(item) for item in json.loads(TAU.read_text())]


def test_tau_fixture_shape(tau):
    assert len(tau) == 67
    assert sum(not t.is_success for t in tau) == 42


# Run 0 (failed): mia_li_3668 books JFK -> ATL -> SEA on 2024-05-20, reservation HATHAT.
# Run 41 (failed): anya_garcia_5901 cancels 3RK2T9, passengers Anya Garcia and Mei Lee.
TAU_GOALS = [
    (0, "For user mia_li_3668, book flights HAT136 and HAT039 from JFK to SEA via ATL on May 20; "
        "the reservation ID is HATHAT, paid $250 with certificate_7504069 and $55 with the card "
        "ending in 7447, with 3 bags.", []),
    (0, "For user mia_li_3668, book flights HAT137 and HAT039 on May 20", ["HAT137"]),
    (0, "For user mia_li_3668, book flights HAT136 and HAT039 on May 21", ["May 21"]),
    (0, "For user mia_li_3668, book flights from LGA to SEA via ATL", ["LGA"]),
    (0, "For user mia_li_3668, book flights HAT136 and HAT039 with 4 bags", ["4"]),
    (0, "For user mia_li_3668, book a flight for Mia Lee", ["Mia Lee"]),
    (0, "For user mia_li_3669, book flights HAT136 and HAT039", ["mia_li_3669"]),
    (0, "Book HAT136 for Mia Li departing after 11 AM", ["11 AM"]),      # the user's words only
    (41, "Cancel reservation 3RK2T9 of user anya_garcia_5901 with passengers Anya Garcia and "
         "Mei Lee, flying HAT214 on May 19 and HAT009 on May 20, paid $280 with gift_card_2550356.", []),
    (41, "Cancel reservation 3RK2T9 with passengers Anya Garcia and Mei Li", ["Mei Li"]),
    (41, "Cancel reservation 3RK2T9, flying HAT214 on May 18", ["May 18"]),
    (41, "Cancel reservation 3RK2T9 booked 10 hours ago", ["10"]),       # the user's words only
]


@pytest.mark.parametrize("run, goal, absent", TAU_GOALS)
def test_tau_goals(tau, run, goal, absent):
    g = check_grounding(goal, tau[run])
    assert missing(g) == absent
    assert g.is_grounded is (not absent)


def test_tau_user_words_ground_only_when_passed_explicitly(tau):
    run = tau[0]
    said = tuple(s.observation for s in run.steps if s.role == "user")
    goal = "Book HAT136 for Mia Li departing after 11 AM"
    assert not check_grounding(goal, run).is_grounded
    assert check_grounding(goal, run, extra_evidence=said).is_grounded


def test_tau_every_run_grounds_its_own_tool_values_and_catches_changed_ones(tau):
    """On every run that booked or read a reservation: a goal built from values in its tool
    outputs (flight number with its date written "May 20") is grounded, and changing the
    flight number, the day or the reservation id is caught and named."""
    import calendar
    import re
    checked = 0
    for run in tau:
        seen = "\n".join(s.observation for s in run.steps if s.is_evidence)
        flight = re.search(r'"flight_number": "(HAT\d+)", "date": "2024-05-(\d\d)"', seen)
        res = re.search(r'"reservation_id": "(\w+)"', seen)
        if not (flight and res):
            continue
        number, day = flight.group(1), int(flight.group(2))
        goal = f"Look up reservation {res.group(1)} and flight {number} on May {day}"
        assert check_grounding(goal, run).is_grounded, (run.id, goal)
        other_flight = f"HAT{(int(number[3:]) + 1) % 1000:03d}"
        other_day = f"May {day % 28 + 1}"
        other_res = res.group(1)[:-1] + ("Z" if res.group(1)[-1] != "Z" else "Y")
        for old, new in ((number, other_flight), (f"May {day}", other_day), (res.group(1), other_res)):
            if new in seen or (new.startswith("May") and f"2024-05-{day % 28 + 1:02d}" in seen):
                continue                             # the changed value happens to exist
            assert missing(check_grounding(goal.replace(old, new), run)) == [new], (run.id, new)
        checked += 1
    assert checked >= 25
