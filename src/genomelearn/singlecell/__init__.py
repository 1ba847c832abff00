"""Single-cell analysis: PCA vs autoencoder embeddings, UMAP, Leiden clusters, clustering metrics,
and multi-omics integration through a consensus kNN graph and a multimodal autoencoder.

Modules: :mod:`.io` (inputs, cell matching, labels), :mod:`.preprocess` (scanpy normalisation),
:mod:`.embed` (PCA, autoencoders, UMAP, Leiden), :mod:`.graphs` (kNN per omic, masked Hamming,
consensus graph), :mod:`.metrics` (ARI, NMI, silhouette, kNN preservation), :mod:`.pipeline`
(one function per workflow step).
"""
