"""The paper's published numbers (Yun et al., SIGIR 2019, Table 2), printed beside ours."""

PAPER_TABLE2 = {
    # model: (RMSE, MAE)
    "MovieLens": {
        "BiasedMF": (0.9132, 0.7165), "NCF": (0.9040, 0.7150), "AFM": (0.9126, 0.7175),
        "LibFM": (0.9234, 0.7252), "NFM": (0.9134, 0.7189), "xDeepFM": (0.9104, 0.7155),
        "SAIN": (0.8847, 0.6958),
    },
    "Weibo-Douban": {
        "BiasedMF": (0.7933, 0.6169), "NCF": (0.7805, 0.6158), "AFM": (0.7717, 0.6034),
        "LibFM": (0.7755, 0.6141), "NFM": (0.7744, 0.6111), "xDeepFM": (0.7730, 0.6077),
        "SAIN": (0.7639, 0.5957),
    },
}  # fmt: skip

PAPER_NOTE = (
    "Paper = the published Table 2 of Yun et al. (SIGIR 2019), copied, not rerun. The authors' "
    "code evaluated on the test file every epoch without model selection on validation, so "
    "those figures may be best-on-test; ours select on validation and touch test once."
)
