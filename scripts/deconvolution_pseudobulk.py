"""Pseudo-bulk samples of known composition from a labelled single-cell reference (no leakage).

The reference cells are split per cell type: one half builds the signature (next rule), the other
half is mixed into pseudo-bulk samples whose realised cell fractions are the truth.
"""

import anndata as ad

from genomelearn.deconvolution.pseudobulk import make_pseudobulk
from genomelearn.deconvolution.tables import write_tsv
from genomelearn.errors import InputError
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    cfg = smk.params.cfg
    ref, mix = cfg["reference"], cfg["pseudobulk"]
    try:
        adata = ad.read_h5ad(smk.input.source)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is an input error
        raise InputError(f"{smk.input.source}: cannot read as AnnData .h5ad ({exc})") from exc
    reference, bulk, truth, split = make_pseudobulk(
        adata,
        ref["cluster_key"],
        n_samples=mix["n_samples"],
        cells_per_sample=mix["cells_per_sample"],
        reference_fraction=mix["reference_fraction"],
        seed=mix["seed"],
        layer=ref.get("layer"),
        use_raw=ref["use_raw"],
        log1p=ref["log1p"],
        source=str(smk.input.source),
    )
    counts = split.groupby(["cell_type", "part"]).size().unstack(fill_value=0)
    log.info(
        "split of %s by %s (cells):\n%s", smk.input.source, ref["cluster_key"], counts.to_string()
    )
    log.info(
        "%d pseudo-bulk samples of %d cells each over %d genes",
        bulk.shape[1],
        mix["cells_per_sample"],
        bulk.shape[0],
    )
    reference.write_h5ad(smk.output.reference)
    write_tsv(bulk.rename_axis("gene"), smk.output.bulk, index=True)
    write_tsv(truth.rename_axis("sample"), smk.output.truth, index=True)
    write_tsv(split, smk.output.split)


run_script(main, snakemake)  # noqa: F821 - provided by Snakemake
