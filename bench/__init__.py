"""spikformer-bench: training, studies, statistics and reports for spiking vision transformers."""
