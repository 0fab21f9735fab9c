"""Progbar: Keras 3's exact progress strings (spec section 20), on a fake clock."""

import pytest

from fastkeras.utils import progbar as progbar_module
from fastkeras.utils.progbar import Progbar

BOLD, RESET, GREEN, WHITE = "\x1b[1m", "\x1b[0m", "\x1b[32m", "\x1b[37m"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progbar_module, "time", fake)
    return fake


def bar(done, width=20):
    out = f"{GREEN}{'━' * done}{RESET}" if done else ""
    return out + f"{WHITE}{'━' * (width - done)}{RESET}"


def test_verbose1_lines_rewrite_in_place(clock, capsys):
    pb = Progbar(3)
    clock.now += 0.5
    pb.update(1, [("loss", 0.9), ("acc", 0.5)])
    first = (f"{BOLD}1/3{RESET} " + bar(6) + f" {BOLD}1s{RESET} 500ms/step"
             " - loss: 0.9000 - acc: 0.5000")
    assert capsys.readouterr().out == "\r" + first
    width1 = len("1/3 ") + 20 + len(" 1s 500ms/step - loss: 0.9000 - acc: 0.5000")

    clock.now += 0.003
    pb.update(2, [("loss", 0.7), ("acc", 0.6)])          # within 0.05 s: not shown
    assert capsys.readouterr().out == ""

    clock.now += 0.2
    pb.update(3, [("loss", 0.5), ("val_loss", 0.00042)], finalize=True)
    # per-step time excludes the first step: (0.203 s) / 2 steps; elapsed 0.703 s -> "1s"
    line = (f"{BOLD}3/3{RESET} " + bar(20) + f" {BOLD}1s{RESET} 102ms/step"
            " - loss: 0.5000 - acc: 0.5500 - val_loss: 4.2000e-04")
    width3 = len("3/3 ") + 20 + len(" 1s 102ms/step - loss: 0.5000 - acc: 0.5500 - val_loss: "
                                    "4.2000e-04")
    assert width3 > width1
    assert capsys.readouterr().out == "\b" * width1 + "\r" + line + "\n"


def test_shorter_line_is_padded_and_values_averaged_by_steps(clock, capsys):
    pb = Progbar(10)
    clock.now += 70.0
    pb.update(1, [("loss", 1.0)])
    first = f"{BOLD} 1/10{RESET} " + bar(2) + f" {BOLD}10:30{RESET} 70s/step - loss: 1.0000"
    assert capsys.readouterr().out == "\r" + first
    width1 = len(" 1/10 ") + 20 + len(" 10:30 70s/step - loss: 1.0000")
    clock.now += 0.3
    pb.update(4, [("loss", 4.0)])
    # loss averaged over steps: (1*1 + 4*3) / 4; per step (0.3 s / 3) after the first step
    second = f"{BOLD} 4/10{RESET} " + bar(8) + f" {BOLD}0s{RESET} 100ms/step - loss: 3.2500"
    width2 = len(" 4/10 ") + 20 + len(" 0s 100ms/step - loss: 3.2500")
    assert capsys.readouterr().out == "\b" * width1 + "\r" + second + " " * (width1 - width2)


@pytest.mark.parametrize("per_step, text", [
    (0.5, "5s"), (7.0, "1:10"), (400.0, "1:06:40"),
])
def test_eta_formats(clock, capsys, per_step, text):
    pb = Progbar(11)
    clock.now += per_step
    pb.update(1)
    assert f" {BOLD}{text}{RESET}" in capsys.readouterr().out


@pytest.mark.parametrize("per_step, text", [(2.4, "2s/step"), (0.0123, "12ms/step"),
                                            (0.000045, "45us/step")])
def test_time_per_step_units(clock, capsys, per_step, text):
    pb = Progbar(1)
    clock.now += per_step
    pb.update(1)
    assert f" {text}\n" in capsys.readouterr().out


def test_verbose2_single_line(clock, capsys):
    pb = Progbar(4, verbose=2)
    for step in range(1, 4):
        clock.now += 0.1
        pb.update(step, [("loss", 1.0)])
    assert capsys.readouterr().out == ""
    clock.now += 0.1
    pb.update(4, [("accuracy", 0.48), ("loss", 0.7796), ("val_accuracy", 0.6),
                  ("val_loss", -0.45609)])
    assert capsys.readouterr().out == ("4/4 - 0s - 100ms/step - loss: 0.7796 - accuracy: 0.4800"
                                       " - val_accuracy: 0.6000 - val_loss: -4.5609e-01\n")


def test_unknown_target(clock, capsys):
    pb = Progbar(None)
    clock.now += 0.25
    pb.update(5, [("loss", 2.0)])
    assert capsys.readouterr().out == (f"\r      5/Unknown {BOLD}0s{RESET} 50ms/step"
                                       " - loss: 2.0000")


def test_stateful_metrics_shown_as_given(clock, capsys):
    pb = Progbar(2, stateful_metrics=["acc"])
    clock.now += 1.0
    pb.update(1, [("acc", 0.2), ("loss", 1.0)])
    clock.now += 1.0
    pb.update(2, [("acc", 0.8), ("loss", 3.0)])
    out = capsys.readouterr().out
    assert out.endswith("- acc: 0.8000 - loss: 3.0000\n")       # finalize keeps the last
    pb = Progbar(4, stateless_metrics=set())                    # Keras 3 ProgbarLogger mode
    clock.now += 1.0
    pb.update(1, [("loss", 1.0)])
    clock.now += 1.0
    pb.update(2, [("loss", 3.0)])
    assert capsys.readouterr().out.endswith("- loss: 3.0000")


def test_add_and_silent(clock, capsys):
    pb = Progbar(4, verbose=0)
    pb.add(2, [("loss", 1.0)])
    pb.add(2)
    assert capsys.readouterr().out == ""
    assert pb._seen_so_far == 4


def test_errors():
    with pytest.raises(ValueError, match="Only one of `stateful_metrics` or `stateless_metrics`"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])
    with pytest.raises(ValueError, match="`target` must be a non-negative integer or None"):
        Progbar(-1)
    with pytest.raises(ValueError, match="`verbose` must be 0, 1 or 2"):
        Progbar(3, verbose=3)
