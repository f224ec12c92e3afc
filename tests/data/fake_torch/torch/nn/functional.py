import torch


def scaled_dot_product_attention(q, k, v, is_causal=False):
    torch.cuda._spend(q.nbytes / 1e12)
    return torch.randn(q.numel, dtype=q.dtype, device=q.device)
