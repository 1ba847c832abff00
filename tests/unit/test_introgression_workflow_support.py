"""The introgression grid: which (labels, matching, model) x split x seed jobs a config trains,
including full_grid with fewer seeds on the non-primary settings (secondary_seeds), and the
transformer inputs of the interpretation rule."""

import copy
from pathlib import Path

import pytest
import yaml

from genomelearn.introgression import workflow_support as ws
from genomelearn.validation import schema_errors

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config" / "schemas" / "introgression.schema.yaml"
PRIMARY = ("deserts", "matched")
DEEP = ("kmer_mlp", "cnn", "bilstm", "transformer")
CLASSICAL = ("gc_logreg", "kmer_logreg", "random_forest")


@pytest.fixture(scope="module")
def default_block():
    block = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["introgression"]
    assert schema_errors(block, SCHEMA, "introgression") == []
    return block


def _block(default_block, **changes):
    block = copy.deepcopy(default_block)
    block.update(changes)
    assert schema_errors(block, SCHEMA, "introgression") == []
    return block


def _jobs(block):
    return [
        (lab, match, model, split, seed)
        for lab, match, model in ws.grid(block)
        for split in ws.trained_splits(block, lab, match, model)
        for seed in ws.seeds(block, model, lab, match)
    ]


def test_schema_default_leaves_secondary_seeds_off(default_block):
    block = {k: v for k, v in copy.deepcopy(default_block).items() if k != "secondary_seeds"}
    assert schema_errors(block, SCHEMA, "introgression") == []
    assert block["secondary_seeds"] == {"classical": None, "deep": None}
    bad = _block(default_block)
    bad["secondary_seeds"] = {"deep": []}
    assert any("secondary_seeds" in line for line in schema_errors(bad, SCHEMA, "introgression"))


def test_default_grid(default_block):
    block = default_block
    grid = ws.grid(block)
    settings = {(lab, match) for lab, match, _ in grid}
    assert len(settings) == 6
    assert {m for lab, match, m in grid if (lab, match) != PRIMARY} == set(CLASSICAL)
    assert {m for lab, match, m in grid if (lab, match) == PRIMARY} == set(CLASSICAL + DEEP)
    jobs = _jobs(block)
    # random only for the primary setting's scikit-learn models; 3 deep seeds, 1 classical seed
    assert {(j[0], j[1], j[2]) for j in jobs if j[3] == "random"} == {
        (*PRIMARY, m) for m in CLASSICAL
    }
    assert len([j for j in jobs if j[2] in DEEP]) == 4 * 5 * 3
    assert len([j for j in jobs if j[2] in CLASSICAL]) == 6 * 3 * 5 + 3
    # no setting given: the family's seeds
    assert ws.seeds(block, "cnn") == [0, 1, 2] and ws.seeds(block, "gc_logreg") == [0]
    assert len(ws.predictions(block, "d")) == len(jobs)


def test_full_grid_secondary_seeds_and_random_on_primary_only(default_block):
    block = _block(default_block, full_grid=True, secondary_seeds={"deep": [0]})
    assert len(ws.grid(block)) == 6 * 7
    jobs = _jobs(block)
    for lab, match, model, split, seed in jobs:
        if (lab, match) == PRIMARY:
            assert ws.seeds(block, model, lab, match) == ([0] if model in CLASSICAL else [0, 1, 2])
        else:
            assert split != "random"  # leakage is shown once, on the primary setting
            assert seed == 0
    random = {(j[0], j[1], j[2]) for j in jobs if j[3] == "random"}
    assert random == {(*PRIMARY, m) for m in CLASSICAL + DEEP}
    n_deep = len([j for j in jobs if j[2] in DEEP])
    # primary: 4 models x (5 folds + random) x 3 seeds; 5 other settings x 4 models x 5 folds x 1
    assert n_deep == 4 * 6 * 3 + 5 * 4 * 5 * 1
    # every non-primary setting still has every model on every fold
    for lab in ws.LABEL_DEFINITIONS:
        for match in ws.MATCHINGS:
            for model in CLASSICAL + DEEP:
                folds = {j[3] for j in jobs if j[:3] == (lab, match, model)}
                assert {f"fold{f}" for f in range(5)} <= folds
    assert ws.predictions(block, "d") == [
        f"results/introgression/d/{lab}/{match}/models/{model}/{split}/seed{seed}/predictions.parquet"
        for lab, match, model, split, seed in jobs
    ]
    # without secondary_seeds the full grid keeps seeds.deep everywhere
    plain = _block(default_block, full_grid=True)
    assert {j[4] for j in _jobs(plain) if j[2] == "cnn" and j[0] == "support"} == {0, 1, 2}
    # classical secondary seeds apply to the classical models only
    both = _block(default_block, full_grid=True, secondary_seeds={"classical": [3], "deep": [1]})
    assert ws.seeds(both, "kmer_logreg", "support", "unmatched") == [3]
    assert ws.seeds(both, "bilstm", "support", "unmatched") == [1]
    assert ws.seeds(both, "kmer_logreg", *PRIMARY) == [0]


def test_interpret_transformer_inputs(default_block):
    block = default_block
    inputs = ws.interpret_transformer(block, "d", *PRIMARY)
    assert inputs == {
        "transformer": "results/introgression/d/deserts/matched/models/transformer/fold0/seed0/model.pt",
        "one_hot": "results/introgression/d/deserts/encoded/one_hot.npy",
    }
    assert inputs["transformer"].replace("model.pt", "predictions.parquet") in ws.predictions(
        block, "d"
    )
    # not trained in that setting, or not configured: no transformer input (the rule still runs)
    assert ws.interpret_transformer(block, "d", "support", "unmatched") == {}
    no_transformer = _block(
        default_block, models=[m for m in default_block["models"] if m != "transformer"]
    )
    assert ws.interpret_transformer(no_transformer, "d", *PRIMARY) == {}
    # the first seed of the setting, also off the primary setting under full_grid
    shifted = _block(
        default_block,
        full_grid=True,
        seeds={"classical": [0], "deep": [4, 5]},
        secondary_seeds={"deep": [7]},
    )
    assert ws.interpret_transformer(shifted, "d", *PRIMARY)["transformer"].endswith(
        "fold0/seed4/model.pt"
    )
    assert ws.interpret_transformer(shifted, "d", "depleted", "unmatched")["transformer"].endswith(
        "fold0/seed7/model.pt"
    )
