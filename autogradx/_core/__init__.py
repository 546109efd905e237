"""The compiled engine: tensors, graph nodes, op application, backward."""
