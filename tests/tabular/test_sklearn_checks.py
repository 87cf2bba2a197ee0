"""scikit-learn's own estimator checks: every check ``check_estimator`` runs on a transformer, on a
tiny ``Imputer``; on ``TabularGAN``, a generator (no transform, predict or score), the API checks
that do not fit (its ``fit(data, discrete_columns)`` takes no ``y``, so the fitting checks' second
argument would name discrete columns)."""

from __future__ import annotations

import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")  # expected_failed_checks is 1.6's

from sklearn.utils import estimator_checks  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from ganforge.tabular import Imputer, TabularGAN  # noqa: E402

# The checks a tiny Imputer fails, and why. Everything else check_estimator runs passes.
IMPUTER_EXPECTED_FAILURES = {
    "check_estimators_pickle": (
        "a fitted Imputer keeps its training objective (objective_), whose noise samplers are"
        " closures; ganforge persists models with save/load (safetensors + JSON), never pickle"
    ),
}


@parametrize_with_checks(
    [Imputer(iterations=1, hidden=8)], expected_failed_checks=lambda _: IMPUTER_EXPECTED_FAILURES
)
def test_imputer_passes_sklearn_checks(estimator, check):
    check(estimator)


TABULAR_GAN_API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order",
]


@pytest.mark.parametrize("check", TABULAR_GAN_API_CHECKS)
def test_tabular_gan_passes_sklearn_api_checks(check):
    getattr(estimator_checks, check)("TabularGAN", TabularGAN())
