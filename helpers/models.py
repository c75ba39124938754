"""Neural collaborative filtering: GMF, MLP and NeuMF (He et al., WWW 2017).

Every model maps ``(users, items)`` index tensors of shape ``(batch,)`` to one
logit per pair; apply a sigmoid for a probability.
"""

from __future__ import annotations

import torch
from torch import nn


def _embedding(count: int, dim: int) -> nn.Embedding:
    table = nn.Embedding(count, dim)
    nn.init.normal_(table.weight, std=0.01)
    return table


class GMF(nn.Module):
    """Generalised matrix factorisation: ``h . (p_u * q_i)``."""

    def __init__(self, n_users: int, n_items: int, factors: int = 8):
        super().__init__()
        self.user = _embedding(n_users, factors)
        self.item = _embedding(n_items, factors)
        self.output = nn.Linear(factors, 1)

    def features(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.user(users) * self.item(items)  # (batch, factors)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(users, items)).squeeze(-1)


def _tower(factors: int, layers: int, dropout: float) -> nn.Sequential:
    """Build Linear + ReLU layers that halve the width down to ``factors`` units.

    The input width is ``factors * 2**layers`` (two concatenated embeddings of
    half that size); weights are Xavier-uniform and biases zero.
    """
    widths = [factors * 2**i for i in range(layers, -1, -1)]  # e.g. 32, 16, 8
    blocks: list[nn.Module] = []
    for width_in, width_out in zip(widths[:-1], widths[1:], strict=False):
        linear = nn.Linear(width_in, width_out)
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)
        blocks += [nn.Dropout(dropout), linear, nn.ReLU()]
    return nn.Sequential(*blocks)


class MLP(nn.Module):
    """Multi-layer perceptron over concatenated user and item embeddings.

    The tower halves its width at each of its ``layers`` linear layers and ends
    at ``factors`` units (the predictive factors). The default ``layers=2`` is the
    NCF paper's example: with ``factors=8`` the sizes are 32 -> 16 -> 8, from two
    16-dimensional embeddings; ``layers=3`` gives 64 -> 32 -> 16 -> 8.
    """

    def __init__(self, n_users: int, n_items: int, factors: int = 8, layers: int = 2,
                 dropout: float = 0.0):  # fmt: skip
        super().__init__()
        self.user = _embedding(n_users, factors * 2 ** (layers - 1))
        self.item = _embedding(n_items, factors * 2 ** (layers - 1))
        self.tower = _tower(factors, layers, dropout)
        self.output = nn.Linear(factors, 1)

    def features(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        joint = torch.cat([self.user(users), self.item(items)], dim=-1)
        return self.tower(joint)  # (batch, factors)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(users, items)).squeeze(-1)


class NeuMF(nn.Module):
    """Neural matrix factorisation: a GMF and an MLP branch joined by one output layer.

    The branches keep separate embeddings, stored side by side: row ``u`` of
    ``user`` contains the user's GMF vector (``factors`` columns) followed by their
    MLP vector, and likewise for ``item``. One lookup per side instead of two
    gives the same model with fewer operations per training step.
    :meth:`from_pretrained` initialises both branches from trained GMF and MLP
    models and weights their output layers by ``alpha`` and ``1 - alpha``, as
    the paper does.
    """

    def __init__(self, n_users: int, n_items: int, factors: int = 8, layers: int = 2,
                 dropout: float = 0.0):  # fmt: skip
        super().__init__()
        self.widths = [factors, factors * 2 ** (layers - 1)]  # GMF, MLP columns
        self.user = _embedding(n_users, sum(self.widths))
        self.item = _embedding(n_items, sum(self.widths))
        self.tower = _tower(factors, layers, dropout)
        self.output = nn.Linear(2 * factors, 1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        user_gmf, user_mlp = self.user(users).split(self.widths, dim=-1)
        item_gmf, item_mlp = self.item(items).split(self.widths, dim=-1)
        mlp = self.tower(torch.cat([user_mlp, item_mlp], dim=-1))
        return self.output(torch.cat([user_gmf * item_gmf, mlp], dim=-1)).squeeze(-1)

    @classmethod
    def from_pretrained(cls, gmf: GMF, mlp: MLP, alpha: float = 0.5) -> NeuMF:
        """Build a NeuMF whose branches start from trained ``gmf`` and ``mlp``.

        The weights are copied, so training the result leaves both inputs as
        they were.
        """
        factors = gmf.user.embedding_dim
        layers = sum(isinstance(m, nn.Linear) for m in mlp.tower)
        model = cls(gmf.user.num_embeddings, gmf.item.num_embeddings, factors, layers)
        model.tower.load_state_dict(mlp.tower.state_dict())
        with torch.no_grad():
            for joint, branches in (
                (model.user, (gmf.user, mlp.user)),
                (model.item, (gmf.item, mlp.item)),
            ):
                joint.weight.copy_(torch.cat([b.weight for b in branches], dim=1))
            model.output.weight.copy_(
                torch.cat(
                    [alpha * gmf.output.weight, (1 - alpha) * mlp.output.weight], dim=1
                )
            )
            model.output.bias.copy_(
                alpha * gmf.output.bias + (1 - alpha) * mlp.output.bias
            )
        return model.to(gmf.output.weight.device)
