"""Signature matrix of a deconvolution dataset: validate a given one, or build it from a reference.

Inputs: ``signature`` (genes x cell types) or ``reference`` (.h5ad) plus optional ``markers``.
Outputs: ``signature`` (TSV, genes x cell types) and ``markers`` (TSV cluster, gene, source...).
"""

import anndata as ad
import pandas as pd

from genomelearn.deconvolution import build_signature, find_markers, read_markers, read_signature
from genomelearn.deconvolution.tables import write_tsv
from genomelearn.errors import InputError
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    cfg = smk.params.cfg
    if smk.input.get("signature"):
        signature = read_signature(smk.input.signature)
        markers = pd.DataFrame(
            {"cluster": "given", "gene": signature.index, "source": smk.input.signature}
        )
        log.info(
            "signature %s: %d genes x %d cell types (%s)",
            smk.input.signature,
            *signature.shape,
            ", ".join(signature.columns),
        )
    else:
        path = smk.input.reference
        try:
            adata = ad.read_h5ad(path)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is an input error
            raise InputError(f"{path}: cannot read as AnnData .h5ad ({exc})") from exc
        ref = cfg["reference"]
        key = ref["cluster_key"]
        if smk.input.get("markers"):
            given = read_markers(smk.input.markers)
            markers = pd.DataFrame(
                [(c, g) for c, genes in given.items() for g in genes], columns=["cluster", "gene"]
            )
            markers["source"] = smk.input.markers
        else:
            markers = find_markers(
                adata,
                key,
                n_markers=ref["n_markers"],
                layer=ref.get("marker_layer"),
                use_raw=ref["marker_use_raw"],
                max_pval_adj=ref["max_pval_adj"],
                min_log2fc=ref["min_log2fc"],
                source=str(path),
            )
            markers["source"] = "scanpy rank_genes_groups (wilcoxon)"
        signature = build_signature(
            adata,
            key,
            markers,
            layer=ref.get("layer"),
            use_raw=ref["use_raw"],
            log1p=ref["log1p"],
            source=str(path),
        )
        log.info("signature from %s: %d marker genes x %d clusters", path, *signature.shape)
    write_tsv(signature.rename_axis("gene"), smk.output.signature, index=True)
    write_tsv(markers, smk.output.markers)


run_script(main, snakemake)  # noqa: F821 - provided by Snakemake
