"""The tutorial programs of the compatibility suite: where each comes from.

Each entry names a program of PyTorch's tutorials (repository pytorch/tutorials,
BSD-3-Clause) by its path and the commit its text was read at. ``programs/`` holds the
text: the code unchanged, the sphinx-gallery text blocks left out, under a header comment
naming its source, commit and license.

The versions are the newest the project could read; where a file's newest version needs
torchvision or downloads a data set, an older version of the same file that runs on
CPU PyTorch alone was taken, as noted.
"""

REPOSITORY = "pytorch/tutorials"
LICENSE = "BSD-3-Clause"

# name: (path in the repository, commit)
PROGRAMS = {
    # "Learning PyTorch with Examples"
    "polynomial_numpy": ("beginner_source/examples_tensor/polynomial_numpy.py",
                         "06782c92ebe7f6bf491fd4e03446a3c17200914c"),
    "polynomial_tensor": ("beginner_source/examples_tensor/polynomial_tensor.py",
                          "4fe88118795089fb1d5d4b1e91834ea6e31f67e4"),
    "polynomial_autograd": ("beginner_source/examples_autograd/polynomial_autograd.py",
                            "92f11a171bb3f3f6bbd8dfb102c59d67c2385032"),
    "polynomial_custom_function": (
        "beginner_source/examples_autograd/polynomial_custom_function.py",
        "c53e7d4efc0e39e455c531d21ec7db28ba220214"),
    "polynomial_nn": ("beginner_source/examples_nn/polynomial_nn.py",
                      "90fb0068a1941e996b100fd9b4e05dbaa497076e"),
    "polynomial_optim": ("beginner_source/examples_nn/polynomial_optim.py",
                         "96efa19f4e1be1b64c5474c1f3ae18a47d98aa90"),
    "polynomial_module": ("beginner_source/examples_nn/polynomial_module.py",
                          "c53e7d4efc0e39e455c531d21ec7db28ba220214"),
    "dynamic_net": ("beginner_source/examples_nn/dynamic_net.py",
                    "1d189709801e98f5f184af0567c7f06b8b5156c2"),
    # The autograd tutorials. blitz/autograd_tutorial.py's newest version builds
    # torchvision's resnet18 with downloaded weights; this is its torch-only version.
    "autogradqs_tutorial": ("beginner_source/basics/autogradqs_tutorial.py",
                            "1532c0de875b79f541371438d8d1d08be18f87de"),
    "autograd_tutorial": ("beginner_source/blitz/autograd_tutorial.py",
                          "05f04cb4463d507cc90f891db82d8c2685e14b53"),
    # The tensor basics
    "tensorqs_tutorial": ("beginner_source/basics/tensorqs_tutorial.py",
                          "7a5420a2093171a4560d25d4a19d95aa0ae6d8c7"),
    "tensor_tutorial": ("beginner_source/blitz/tensor_tutorial.py",
                        "08c4ec986e5eddc66264d3f00f256aafe22d2786"),
    # The build-model basics: imports torchvision (for nothing it uses), so it runs only
    # where torchvision is installed.
    "buildmodel_tutorial": ("beginner_source/basics/buildmodel_tutorial.py",
                            "c53e7d4efc0e39e455c531d21ec7db28ba220214"),
    # Other beginner programs that run on CPU PyTorch with no download
    "neural_networks_tutorial": ("beginner_source/blitz/neural_networks_tutorial.py",
                                 "7a017bba463ba73cfd9d48aabc7e05827a680906"),
    "tensors_deeper_tutorial": ("beginner_source/introyt/tensors_deeper_tutorial.py",
                                "ef26e61a99db1fc39331898a14e93beba8e3ab93"),
    "modelsyt_tutorial": ("beginner_source/introyt/modelsyt_tutorial.py",
                          "c53e7d4efc0e39e455c531d21ec7db28ba220214"),
    "nlp_pytorch_tutorial": ("beginner_source/nlp/pytorch_tutorial.py",
                             "cb7cc08cd2e436ace74fa66ae823382abd39fc6d"),
    "nlp_deep_learning_tutorial": ("beginner_source/nlp/deep_learning_tutorial.py",
                                   "016d0cc077f60c82b8497d4c7f92051ce40cafee"),
    "nlp_word_embeddings_tutorial": ("beginner_source/nlp/word_embeddings_tutorial.py",
                                     "537d2173d209f790135701fa4dcdea2f73e718b7"),
    "nlp_sequence_models_tutorial": ("beginner_source/nlp/sequence_models_tutorial.py",
                                     "f77e1c2c11be5d612ed9adbc73a8b82904162c23"),
}

# Beginner programs left out, and why: each needs torchvision (its data sets, models or
# transforms, with a download), so it does not run on PyTorch here either.
NOT_RUNNABLE = {
    "beginner_source/basics/quickstart_tutorial.py": "torchvision FashionMNIST (download)",
    "beginner_source/basics/data_tutorial.py": "torchvision FashionMNIST (download)",
    "beginner_source/basics/transforms_tutorial.py": "torchvision FashionMNIST (download)",
    "beginner_source/basics/optimization_tutorial.py": "torchvision FashionMNIST (download)",
    "beginner_source/basics/saveloadrun_tutorial.py": "torchvision vgg16 weights (download)",
    "beginner_source/blitz/cifar10_tutorial.py": "torchvision CIFAR10 (download)",
    "beginner_source/introyt/introyt1_tutorial.py": "torchvision CIFAR10 (download)",
    "beginner_source/introyt/trainingyt.py": "torchvision FashionMNIST (download)",
    "beginner_source/introyt/tensorboardyt_tutorial.py": "torchvision FashionMNIST "
                                                         "(download), tensorboard",
    "beginner_source/introyt/captumyt.py": "captum, torchvision resnet101 weights (download)",
}

# Beginner programs that run on PyTorch here but are not in the suite, and why.
LEFT_OUT = {
    "beginner_source/introyt/autogradyt_tutorial.py":
        "prints the autograd profiler's table of timings, which differ from run to run, "
        "so its output cannot be compared (and autogradx has no autograd.profiler)",
    "beginner_source/nlp/advanced_tutorial.py":
        "not yet added: a bidirectional nn.LSTM (absent in autogradx) under 300 epochs of "
        "a CRF written as Python loops, long for the suite's time budget",
}


def header(name):
    """The comment put above a program's text: its source, commit and license."""
    path, commit = PROGRAMS[name]
    return (f"# From {REPOSITORY}, {path} at commit {commit}.\n"
            f"# License: {LICENSE} (Copyright (c) 2017-2022, PyTorch contributors).\n"
            "# The code below is PyTorch's, unchanged (its sphinx-gallery text blocks left out).\n")
