"""The notebooks: each runs top to bottom in a Jupyter kernel, shows its plots and prints what it computed.

Every notebook in notebooks/ is executed with nbclient in quick mode (``BNLAB_QUICK=1`` in the kernel's
environment: small data, few epochs). A test then checks that no cell failed, that the figures were drawn
(image/png outputs) and that a few computed results look right. Cheaper tests check that the committed files
carry no outputs, and that the cells tagged ``seed-code`` are the seeds' code with only the imports changed.
"""

import os
import re
from pathlib import Path

import nbformat
import pytest
from seed_runner import port_imports

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"


# Per notebook: the least number of figures, and checks on the text it printed: a substring that must appear,
# or (a pattern, a predicate on the numbers its groups capture).
EXPECTED = {
    "seed000_pytorch_mnist.ipynb": (
        1,
        [
            "BatchNormTrainingModeWarning",  # the seed tests its BN model in training mode: bnlab says so
            (r"with BN, tested in eval mode \(correct\):\s+([\d.]+) %", lambda acc: acc > 50),
            # single-class test batches in training mode lose what BN's batch statistics normalize away
            (
                r"batches of 10: ([\d.]+) % in eval mode, ([\d.]+) % in training mode",
                lambda ev, tr: ev > tr + 10,
            ),
        ],
    ),
    "seed001_pytorch_mnist.ipynb": (
        1,
        [
            (r"with BN: training set loss [\d.]+, accuracy ([\d.]+) %", lambda acc: acc > 50),
            (r"Test Accuracy: ([\d.]+)%", lambda acc: acc > 50),
        ],
    ),
    "seed002_keras_cifar10.ipynb": (
        3,
        [
            "weights unchanged by compile(): True",  # the seed's sweep keeps training one model
            (r"batch size\s+32: final validation accuracy ([\d.]+)% without BN", lambda acc: acc > 30),
            (r"with BN: validation accuracy [\d.]+% after epoch 1, ([\d.]+)%", lambda acc: acc > 30),
        ],
    ),
    "seed003_keras_mnist.ipynb": (
        3,
        [
            "Non-trainable params: 384",  # the seed's BN network: 2 x (128 + 64) moving statistics
            (
                r"Model with Batch Normalization:\s+Train Accuracy: [\d.]+\s+Validation Accuracy: ([\d.]+)",
                lambda acc: acc > 0.5,
            ),
        ],
    ),
    "seed004_tfdata_mnist.ipynb": (
        2,
        [
            "Image batch shape: (64, 28, 28, 1)",
            "Label batch shape: (64, 10)",
            (r"with BN: validation accuracy .* test accuracy ([\d.]+)%", lambda acc: acc > 50),
        ],
    ),
    "bn_internals.ipynb": (
        3,
        [
            (
                r"central differences to ([\d.e+-]+) and the closed-form formula to ([\d.e+-]+)",
                lambda numeric, formula: numeric < 2e-3 and formula < 1e-4,
            ),
            (r"running_var / Keras's moving_variance = ([\d.]+)", lambda ratio: abs(ratio - 8 / 7) < 1e-3),
            (r"inference output to std ([\d.]+)", lambda std: abs(std - 0.5**0.5) < 0.05),
        ],
    ),
    "bn_backward_from_scratch.ipynb": (
        1,
        [
            (r"check_layer, batchnorm_backward: largest relative error ([\d.e+-]+)", lambda err: err < 1e-7),
            (
                r"without the variance path: dx error ([\d.e+-]+), dgamma error ([\d.e+-]+)",
                lambda dx, dg: dx > 1e-2 and dg < 1e-7,
            ),
            (r"batchnorm_backward_alt vs batchnorm_backward: dx differs by ([\d.e+-]+)", lambda d: d < 1e-10),
            "compare_with_engine, batch norm: passed True",
            (r"ddof=1 pair, gradient check: largest relative error ([\d.e+-]+)", lambda err: err < 1e-7),
            "ddof=1 variance: passed False, var DIFFERS",
            (r"check_layer, layernorm_backward: largest relative error ([\d.e+-]+)", lambda err: err < 1e-7),
            "compare_layernorm_with_engine: passed True",
            # the NumPy pair as an autograd.Function: gradcheck with float32 tolerances, and trained
            "with float32 tolerances: passed True; with the float64 defaults: False",
            "the planted bug: Jacobian mismatch",
            (r"vs nn.BatchNorm1d: largest loss difference ([\d.e+-]+)", lambda d: d < 1e-4),
            # second derivatives through the built-in BN (float32 sums of 16 x 5 terms: ~1e-6 relative)
            "gradgradcheck, F.batch_norm in training mode: True",
            (r"against the closed form: largest relative difference ([\d.e+-]+)", lambda d: d < 1e-4),
        ],
    ),
    "tf_gradient_tape_bn.ipynb": (
        1,
        [
            "BatchNormTrainingFlagWarning",  # both mistakes are made on purpose: bnlab warns at each
            (r"correct loop: test accuracy ([\d.]+) %", lambda acc: acc > 60),
            (r"batch mean against NumPy: largest difference ([\d.e+-]+)", lambda d: d < 1e-5),
            "forgot training=True: moving statistics still at their initial values: True",
            (
                r"class-sorted batches of 100: ([\d.]+) % in inference mode, ([\d.]+) % in training mode",
                lambda inference, training: inference > training + 10,
            ),
            (r"the training-mode 'evaluation' moved moving_mean by up to ([\d.]+)", lambda d: d > 0),
        ],
    ),
    "cnn_batchnorm.ipynb": (
        4,
        [
            "the two models start from the same kernels and biases: True",
            "Non-trainable params: 224",  # the lab's CNN with BN: 2 x (16 + 32 + 64) moving statistics
            (r"vs dense BN on \(N\*H\*W, C\) = \(\d+, \d+\): max difference ([\d.e+-]+)", lambda d: d < 1e-5),
            # the smaller learning rate: both train; BN's training loss ends lower (from the same weights)
            (
                r"SGD lr [\d.]+: test accuracy with BN: ([\d.]+) %, without BN: ([\d.]+) %; "
                r"final training loss with BN: ([\d.]+), without BN: ([\d.]+)",
                lambda acc_bn, acc_none, loss_bn, loss_none: acc_bn > 30 and acc_none > 40 and loss_bn < loss_none,
            ),
            (r"SGD lr [\d.]+ \(the lab default\): test accuracy with BN: ([\d.]+) %", lambda acc: acc > 50),
            (
                r"max difference between NumPy's per-channel batch statistics and bnlab's: ([\d.e+-]+)",
                lambda err: err < 1e-4,
            ),
            (
                r"x_hat per channel: largest \|mean\| ([\d.e+-]+), variance from ([\d.]+) to ([\d.]+); "
                r"largest difference to sigma\^2 / \(sigma\^2 \+ eps\): ([\d.e+-]+)",
                lambda mean, lo, hi, err: mean < 1e-4 and 0.5 < lo <= hi < 1 + 1e-4 and err < 1e-4,
            ),
            # the training set's statistics in place of the lagging moving ones: no worse, well above chance
            (
                r"test accuracy ([\d.]+) % with the moving statistics, ([\d.]+) % with the training set's statistics",
                lambda moving, population: population > 60 and population > moving - 3,
            ),
            (r"against one folded Conv2D on 256 test images: largest difference ([\d.e+-]+)", lambda d: d < 1e-5),
            # the dense BN's batch mean has the noise of N independent values; the conv BN's is far above 1/sqrt(N*H*W)
            (
                r"bn_1\s+m =\s+\d+: median std of mu_B ([\d.]+) channel stds \(1/sqrt\(m\) = ([\d.]+)\)",
                lambda got, independent: 0.5 * independent < got < 2 * independent,
            ),
            (
                r"bn_conv1\s+m =\s+[\d,]+: median std of mu_B ([\d.]+) channel stds \(1/sqrt\(m\) = ([\d.]+)\)",
                lambda got, independent: got > 3 * independent,
            ),
        ],
    ),
}


def _notebooks():
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def _text_outputs(nb):
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _kernel_env():
    env = dict(os.environ, BNLAB_QUICK="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


def test_every_notebook_has_expectations():
    assert set(_notebooks()) == set(EXPECTED)


@pytest.mark.parametrize("name", _notebooks())
def test_notebook_is_stripped_and_valid(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: outputs are not stripped"


_SEED_IMPORT = re.compile(r"^\s*(?:\d+\.)?\s*((?:import|from)\s+(?:tensorflow|torchvision|torch)\b.*)$")


@pytest.mark.parametrize("name", [n for n in _notebooks() if n.startswith("seed")])
def test_seed_cells_change_only_imports(name):
    """A cell tagged seed-code holds a contiguous run of the seed's lines; only import lines may differ,
    and each of those is the port of one of the seed's imports."""
    matches = sorted(SEEDS_DIR.glob(f"{name[4:7]}_*.txt"))
    if not matches:
        pytest.skip(f"seed {name[4:7]} is not available at {SEEDS_DIR}")
    seed_lines = [ln.rstrip() for ln in matches[0].read_text().splitlines()]
    seed_body = [ln for ln in seed_lines if not _SEED_IMPORT.match(ln)]
    seed_imports = {port_imports(m.group(1)) for m in map(_SEED_IMPORT.match, seed_lines) if m}
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = [c for c in nb.cells if "seed-code" in c.metadata.get("tags", [])]
    assert cells, f"{name} has no cell tagged seed-code"
    for cell in cells:
        lines = [ln for ln in cell.source.splitlines() if not ln.startswith(("%%", "# Seed "))]
        imports = [ln for ln in lines if ln.startswith(("import bnlab", "from bnlab"))]
        assert set(imports) <= seed_imports, f"{name}: imports not in the seed: {set(imports) - seed_imports}"
        body = [ln for ln in lines if ln not in imports]
        starts = [i for i in range(len(seed_body) - len(body) + 1) if seed_body[i : i + len(body)] == body]
        assert starts, f"{name}: this seed-code cell differs from the seed beyond its imports:\n{cell.source}"


@pytest.mark.slow
@pytest.mark.parametrize("name", _notebooks())
def test_notebook_runs(name):
    nbclient = pytest.importorskip("nbclient")
    from bnlab import datasets

    try:
        datasets.fashion_mnist.load_data(download=False)
    except datasets.DatasetNotFoundError:
        pytest.skip("the notebooks need Fashion-MNIST (Debian's dataset-fashion-mnist)")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute(env=_kernel_env())  # raises CellExecutionError on the first failing cell

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
    figures = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    min_figures, checks = EXPECTED[name]
    assert figures >= min_figures, f"{name}: {figures} figures drawn, expected at least {min_figures}"
    text = _text_outputs(nb)
    for check in checks:
        if isinstance(check, str):
            assert check in text, f"{name}: {check!r} not in the outputs"
        else:
            pattern, ok = check
            m = re.search(pattern, text)
            assert m, f"{name}: no output matches {pattern!r}"
            values = [float(v) for v in m.groups()]
            assert ok(*values), f"{name}: computed values {values} out of range ({pattern!r})"
