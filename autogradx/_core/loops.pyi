import numpy as np

class Loops:
    ufunc: np.ufunc
