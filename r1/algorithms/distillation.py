"""Logit-level distillation: forward KL from the teacher's token distribution to the student's.

DeepSeek-R1 distils by plain SFT on the teacher's sampled responses. When teacher
and student share a tokenizer, the teacher's full next-token distribution carries
more signal per token than its one sampled token (Hinton et al., 2015); this
module holds that loss as a pure function.
"""

from __future__ import annotations

import torch


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Masked mean over tokens of ``KL(p_teacher || p_student)``, both softened by ``temperature``.

    Forward KL (teacher first) is mode-covering: the student is pushed to put mass
    wherever the teacher does, which is what imitation of a stronger model wants.
    The result is multiplied by ``temperature**2`` so that its gradients keep the
    same scale as the cross-entropy term when the temperature changes (Hinton et al.).

    Args:
        student_logits: ``(B, T, V)``.
        teacher_logits: ``(B, T, V)``, aligned with the student's (same tokenizer; slice
            both to the shared vocabulary first if one model pads its embedding).
        mask: ``(B, T)``, 1 where the token counts (the response), 0 elsewhere.
        temperature: softening applied to both distributions; must be positive.

    Returns:
        A scalar; 0 when no token is masked in.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} differ in shape")
    student_logp = torch.log_softmax(student_logits.float() / temperature, dim=-1)  # (B, T, V)
    teacher_logp = torch.log_softmax(teacher_logits.float() / temperature, dim=-1)  # (B, T, V)
    teacher_p = teacher_logp.exp()
    # sum_v p_T (log p_T - log p_S); where p_T = 0 (a -inf logit) the term is 0, not nan
    terms = torch.where(teacher_p > 0, teacher_p * (teacher_logp - student_logp), torch.zeros_like(teacher_p))
    per_token = terms.sum(dim=-1)  # (B, T)
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0) * temperature**2
