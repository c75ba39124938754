"""Skip-Gram: subsampling, pairs, the closed-form SGD step, training and scoring."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from helpers.skipgram import (
    SkipGram,
    SkipGramConfig,
    embedding_scorer,
    keep_probability,
    node_counts,
    skipgram_pairs,
    subsample_walks,
    train_gensim,
    train_skipgram,
)
from helpers.walks import PAD, random_walks


@pytest.fixture
def rng():
    return np.random.default_rng(5)


def two_cliques(n=8):
    """Two cliques of ``n`` nodes joined by one weak edge, plus an isolated node."""
    dense = np.zeros((2 * n + 1, 2 * n + 1))
    dense[:n, :n] = dense[n : 2 * n, n : 2 * n] = 1.0
    np.fill_diagonal(dense, 0.0)
    dense[0, n] = dense[n, 0] = 0.05
    return sp.csr_matrix(dense)


def test_keep_probability_word2vec_formula():
    counts = np.array([900, 90, 10, 0])
    keep = keep_probability(counts, threshold=0.01)
    share = 900 / 1000
    assert keep[0] == pytest.approx((np.sqrt(share / 0.01) + 1) * 0.01 / share)
    assert keep[2] == 1.0  # rare nodes are kept
    assert keep[3] == 1.0  # so are absent ones
    assert np.all(keep_probability(counts, 0.0) == 1.0)


def test_subsample_walks_drops_and_closes_gaps(rng):
    walks = np.array([[0, 1, 2, 1, 3], [4, PAD, PAD, PAD, PAD]])
    keep = np.array([1.0, 0.0, 1.0, 1.0, 1.0])  # always drop node 1
    got = subsample_walks(walks, keep, rng)
    assert got.tolist() == [[0, 2, 3, PAD, PAD], [4, PAD, PAD, PAD, PAD]]
    assert np.array_equal(subsample_walks(walks, np.ones(5), rng), walks)


def test_skipgram_pairs_window_one_exact(rng):
    walks = np.array([[0, 1, 2, PAD]])
    centres, contexts = skipgram_pairs(walks, window=1, rng=rng)
    assert sorted(zip(centres.tolist(), contexts.tolist(), strict=True)) == [
        (0, 1), (1, 0), (1, 2), (2, 1),
    ]  # fmt: skip


def test_skipgram_pairs_stay_inside_the_window(rng):
    walks = np.arange(40).reshape(2, 20)  # node = position (+20 on the second walk)
    centres, contexts = skipgram_pairs(walks, window=3, rng=rng)
    distance = np.abs(centres - contexts)
    assert distance.min() >= 1
    assert distance.max() <= 3
    assert np.all(centres // 20 == contexts // 20)  # never across walks
    # shrunk windows: about (1 + 2 + 3) / 3 = 2 contexts on each side per token
    assert 0.6 * 2 * 2 * 40 < len(centres) < 1.2 * 2 * 2 * 40


@pytest.mark.parametrize("group", [1, 4])
def test_sgd_step_equals_autograd(group):
    generator = torch.Generator().manual_seed(0)
    model = SkipGram(10, 6, generator)
    with torch.no_grad():
        model.context.normal_(generator=generator)  # non-zero, so every term counts
    reference = SkipGram(10, 6)
    reference.load_state_dict(model.state_dict())
    centres = torch.tensor([0, 1, 2, 2, 3, 4, 5, 0])
    contexts = torch.tensor([1, 2, 3, 3, 4, 5, 6, 7])
    noise = torch.randint(0, 10, (8 // group, 3), generator=generator)
    loss = model.sgd_step(centres, contexts, noise, lr=0.1)
    expected_loss = reference(centres, contexts, noise)
    expected_loss.sum().backward()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter -= 0.1 * parameter.grad
    assert torch.allclose(loss, expected_loss.detach(), atol=1e-6)
    assert torch.allclose(model.centre, reference.centre, atol=1e-6)
    assert torch.allclose(model.context, reference.context, atol=1e-6)


def test_config_rejects_ragged_batch():
    with pytest.raises(ValueError, match="multiple of group"):
        SkipGramConfig(batch_size=100, group=32)


def test_train_skipgram_separates_two_cliques(rng):
    graph = two_cliques()
    walks = random_walks(graph, 20, 20, rng, start_nodes=np.arange(16))
    config = SkipGramConfig(dim=8, window=3, epochs=3, batch_size=256, group=8, lr=0.05)
    result = train_skipgram(walks, 17, config, rng)
    unit = (
        result.embeddings[:16] / np.linalg.norm(result.embeddings[:16], axis=1)[:, None]
    )
    similarity = unit @ unit.T
    same = np.equal.outer(np.arange(16) < 8, np.arange(16) < 8)
    np.fill_diagonal(same, False)
    different = ~np.equal.outer(np.arange(16) < 8, np.arange(16) < 8)
    assert similarity[same].mean() > similarity[different].mean() + 0.5
    assert not result.trained[16]
    assert np.all(result.embeddings[16] == 0)
    assert result.history["loss"].iloc[-1] < result.history["loss"].iloc[0]
    assert result.n_pairs > 0
    assert result.pairs_per_second > 0


def test_train_skipgram_seeded():
    walks = random_walks(
        two_cliques(), 5, 10, np.random.default_rng(0), start_nodes=[0, 9]
    )
    config = SkipGramConfig(
        dim=4, window=2, epochs=1, batch_size=64, group=4, threads=1
    )
    a = train_skipgram(walks, 17, config, np.random.default_rng(3))
    b = train_skipgram(walks, 17, config, np.random.default_rng(3))
    assert np.array_equal(a.embeddings, b.embeddings)


def test_node_counts_ignore_padding():
    walks = np.array([[0, 1, 1], [2, PAD, PAD]])
    assert node_counts(walks, 4).tolist() == [1, 2, 1, 0]


def test_embedding_scorer_missing_items_last():
    embeddings = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 0.0], [0.0, 0.0]])
    history = sp.csr_matrix(np.array([[1, 0, 1, 0, 0], [0, 0, 1, 0, 0]]))
    fallback = np.array([0.0, 0.0, 0.0, 1.0, 5.0])  # popularity of the missing items
    scores = embedding_scorer(embeddings, history, fallback, k=None)(np.array([0, 1]))
    # an item is never its own neighbour: s(i, i) = 0
    assert scores[0, :3].tolist() == pytest.approx([0.0, 1.0, 0.0])
    assert scores[1, :3].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert np.all(scores[:, 3:].max(axis=1) < scores[:, :3].min(axis=1))
    assert np.all(scores[:, 4] > scores[:, 3])  # missing items ordered by fallback


def test_embedding_scorer_keeps_k_neighbours():
    angles = np.array([0.0, 0.1, 0.3, 1.2])
    embeddings = np.column_stack([np.cos(angles), np.sin(angles)])
    history = sp.csr_matrix(np.array([[0, 0, 1, 0], [1, 0, 0, 0]]))
    scores = embedding_scorer(embeddings, history, np.zeros(4), k=1)(np.array([0, 1]))
    # nearest items: 0 -> 1, 1 -> 0, 2 -> 1, 3 -> 2; an item is scored only from
    # its own nearest item, when the user has it
    assert scores[0].tolist() == pytest.approx([0.0, 0.0, 0.0, np.cos(0.9)])
    assert scores[1].tolist() == pytest.approx([0.0, np.cos(0.1), 0.0, 0.0])


def test_train_gensim_maps_tokens_to_nodes(rng):
    pytest.importorskip("gensim")
    walks = random_walks(two_cliques(), 10, 10, rng, start_nodes=np.arange(16))
    config = SkipGramConfig(dim=8, window=2, epochs=2)
    embeddings, seconds = train_gensim(walks, 17, config, seed=1, workers=1)
    assert embeddings.shape == (17, 8)
    assert seconds > 0
    assert np.all(embeddings[16] == 0)
    assert np.all(np.abs(embeddings[:16]).sum(1) > 0)
