"""The Pareto front of metric vs size / latency: minimise x, maximise y."""

from edgekd.report.plots import front_of, pareto_front


def test_front_on_hand_made_points():
    points = [
        (10.0, 0.70),  # smallest: on the front
        (20.0, 0.80),  # bigger but better: on
        (25.0, 0.75),  # dominated by (20, 0.80)
        (40.0, 0.80),  # as good as (20, 0.80) but bigger: dominated
        (80.0, 0.90),  # biggest and best: on
        (15.0, 0.65),  # dominated by (10, 0.70)
    ]
    assert pareto_front(points) == [True, True, False, False, True, False]


def test_identical_points_both_stay_on_the_front():
    assert pareto_front([(1.0, 0.5), (1.0, 0.5), (2.0, 0.4)]) == [True, True, False]


def test_empty_and_single():
    assert pareto_front([]) == [] and pareto_front([(3.0, 0.1)]) == [True]


def test_front_of_report_artifacts_uses_size_and_latency():
    def art(name, kb, ms, macc):
        return {"name": name, "size_bytes": kb * 1024, "latency": {"p90_ms": ms}, "metrics": {"macc": macc}}

    arts = [art("a", 20, 5.0, 0.7), art("b", 80, 1.0, 0.7), art("c", 100, 2.0, 0.9)]
    assert front_of(arts, "size") == {"a": True, "b": False, "c": True}
    assert front_of(arts, "latency") == {"a": False, "b": True, "c": True}
