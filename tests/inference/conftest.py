"""A real perturbation set: BayesLIME's Gaussian perturbations of a breast_cancer row,
answered by the demo random forest, with its exact conjugate posterior."""

from functools import partial

import pytest
import torch

import probex as px
from probex.inference.surrogate_posterior import conjugate_posterior
from probex.models.surrogate import SufficientStatistics, bayesian_linear_surrogate, center


@pytest.fixture(scope="session")
def breast_cancer_surrogate(demo_model):
    model, data = demo_model
    bb = px.BlackBox(model)
    explainer = px.BayesLIME(bb, background=data.X_train, seed=0)
    x = torch.as_tensor(data.X_test[:1])
    perturbations = explainer.perturbation.sample(x, 1000, torch.Generator().manual_seed(0))
    y = bb(perturbations.inputs.reshape(-1, x.shape[1])).reshape(1, -1)
    centred = center(perturbations.z, y, perturbations.weights)
    prior = px.priors.NormalInverseGamma()
    exact = conjugate_posterior(centred, prior)
    init = {"attribution": exact.mean, "noise_scale": (exact.rate / exact.shape).sqrt()}
    model = partial(bayesian_linear_surrogate, SufficientStatistics.of(centred), prior)
    return model, exact, init
