"""One-hot, k-mer tokens and k-mer counts of the windows (rule introgression_encode)."""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from genomelearn.encoding import kmer_counts, kmer_tokens, one_hot, to_codes
from genomelearn.workflow import get_logger, run_script


def main(smk):
    log = get_logger()
    windows = pd.read_parquet(smk.input.windows, columns=["sequence"])
    codes = to_codes(windows["sequence"].to_numpy().astype("S"))
    k_tok, k_count = smk.params.encoding["token_k"], smk.params.encoding["count_k"]
    np.save(smk.output.one_hot, one_hot(codes))
    np.save(smk.output.tokens, kmer_tokens(codes, k_tok))
    sp.save_npz(smk.output.counts, kmer_counts(kmer_tokens(codes, k_count), k_count))
    log.info(
        "encoded %d windows of %d bp (tokens k=%d, counts k=%d)", *codes.shape, k_tok, k_count
    )


run_script(main, snakemake)  # noqa: F821
