// The algorithm registry: one line per algorithm unit, in help order. A unit
// `x` defines `const AlgorithmInfo& x_algorithm()` (train/registry.hpp).
// Included twice by train/registry.cpp with SIBP_ALGORITHM defined; not a header.
SIBP_ALGORITHM(sgd)
SIBP_ALGORITHM(adam)
SIBP_ALGORITHM(adamw)
SIBP_ALGORITHM(rmsprop)
SIBP_ALGORITHM(sibp)
SIBP_ALGORITHM(proxprop)
