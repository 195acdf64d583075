namespace KvTier.Gpu.Kernels;

/// <summary>The dimensions the <c>ans</c> kernels need (format-spec/kvtier-format.md §9.1–§9.4), passed by value to each launch.</summary>
/// <param name="Elements">n = token_count · kv_dim.</param>
/// <param name="KvDim">Channels per token.</param>
/// <param name="Lanes">N, the number of rANS lanes.</param>
/// <param name="ChannelsPerTable">kv_dim / G: consecutive channels that share a frequency table.</param>
/// <param name="Alphabet">A, symbols per table; each table's cumulative row holds A + 1 entries.</param>
/// <param name="Bound">B: quantized values lie in [−B, B].</param>
/// <param name="ScaleGroupWidth">W for the per-token axes (head_dim or kv_dim); 0 for one scale per channel.</param>
public readonly record struct AnsLaneShape(int Elements, int KvDim, int Lanes, int ChannelsPerTable, int Alphabet, int Bound, int ScaleGroupWidth);
