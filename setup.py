from setuptools import find_packages, setup

setup(
    name="rbm",
    version="0.2.0",
    description="Restricted Boltzmann Machines as PyTensor graphs, in the style of the Theano tutorial",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(include=["rbm", "rbm.*"]),
    python_requires=">=3.11",
    install_requires=[
        # PyTensor 3.0.x is the newest line that supports Python 3.11.
        "pytensor>=3.0.7,<3.1",
        # Without packaging PyTensor silently skips its stability rewrites.
        "packaging>=23",
        "numba>=0.60",
        # mode="cpu" is PyTensor's JAX backend on the CPU (the fastest CPU mode measured).
        "jax>=0.4.30",
        "jaxlib>=0.4.30",
        "scipy>=1.11",
        "numpy>=1.26",
        "pillow>=10",
        "tqdm>=4.60",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3", "hypothesis>=6", "scikit-learn>=1.6", "matplotlib>=3.7"],
        # for mode="gpu": JAX with CUDA (on a machine with an NVIDIA GPU)
        "gpu": ["jax[cuda12]>=0.4.30"],
        "sklearn": ["scikit-learn>=1.6"],
        "bench": ["scikit-learn>=1.6"],
        "plots": ["matplotlib>=3.7"],
    },
)
