"""``model.summary()``: Keras's table of layers, output shapes and parameter counts."""

from __future__ import annotations

import textwrap
from typing import Any, Callable

import numpy as np

from fastkeras.engine.input_layer import InputLayer


def count_params(weights: list) -> int:
    """Number of scalars in ``weights`` (each variable counted once)."""
    unique = {id(w): w for w in weights}.values()
    return int(sum(int(np.prod(w.shape)) for w in unique))


def memory_size(weights: list) -> int:
    """Bytes held by ``weights`` (each variable counted once)."""
    unique = {id(w): w for w in weights}.values()
    return int(sum(int(np.prod(w.shape)) * w.dtype.itemsize for w in unique))


def readable_memory_size(size: float) -> str:
    """``76`` -> ``'76.00 B'``, ``2048`` -> ``'2.00 KB'`` (base 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _model_nodes(model: Any) -> set:
    nodes = {id(n) for n in getattr(model, "_nodes", ())}
    for layer in getattr(model, "_layers", ()):
        if isinstance(layer, InputLayer):
            nodes.update(id(n) for n in layer._inbound_nodes if n.is_input)
    return nodes


def _format_shape(layer: Any, relevant: set) -> str:
    shapes = []
    for node in layer._inbound_nodes:
        if id(node) in relevant:
            out = [t.shape for t in node.output_tensors]
            shapes.append(out[0] if len(out) == 1 else out)
    if not shapes and layer._call_shapes is not None:
        shape = layer._call_shapes[1]
        shapes.append((None,) + tuple(shape[1:]) if isinstance(shape, tuple) and shape
                      else shape)
    if not shapes:
        return "?"
    if any(s != shapes[0] for s in shapes[1:]):
        return "multiple"
    return str(shapes[0])


def _connections(layer: Any, relevant: set) -> str:
    links = []
    for node in layer._inbound_nodes:
        if id(node) not in relevant:
            continue
        for t in node.input_tensors:
            origin, node_index, tensor_index = t._keras_history
            links.append(f"{origin.name}[{node_index}][{tensor_index}]")
    return ", ".join(links) if links else "-"


def _sequential_like(model: Any) -> bool:
    nodes = getattr(model, "_nodes", None)
    if nodes is None or type(model).__name__ == "Sequential":
        return True
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    consumed, layers = set(), set()
    for node in nodes:
        if len(node.input_tensors) > 1 or id(node.layer) in layers:
            return False
        layers.add(id(node.layer))
        for t in node.input_tensors:
            if id(t) in consumed:
                return False
            consumed.add(id(t))
    return True


def _render(rows: list, widths: list, aligns: list, header: list) -> list:
    """Box-drawn table lines; ``widths`` are the columns' widths including their border and
    padding, widened where needed to fit the header."""
    inners = [max(w - 3, len(h)) for w, h in zip(widths, header)]

    def row_lines(cells: list, left: str, sep: str, right: str) -> list:
        wrapped = [textwrap.wrap(c, inner, break_on_hyphens=False) or [""]
                   for c, inner in zip(cells, inners)]
        out = []
        for i in range(max(len(w) for w in wrapped)):
            parts = []
            for lines, inner, align in zip(wrapped, inners, aligns):
                text = lines[i] if i < len(lines) else ""
                parts.append(" " + (text.rjust(inner) if align == "right"
                                    else text.ljust(inner)) + " ")
            out.append(left + sep.join(parts) + right)
        return out

    def rule(left: str, fill: str, sep: str, right: str) -> str:
        return left + sep.join(fill * (inner + 2) for inner in inners) + right

    lines = [rule("┏", "━", "┳", "┓")]
    lines += row_lines(header, "┃", "┃", "┃")
    lines.append(rule("┡", "━", "╇", "┩"))
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines += row_lines(row, "│", "│", "│")
    lines.append(rule("└", "─", "┴", "┘"))
    return lines


def print_summary(model: Any, line_length: int | None = None, positions: list | None = None,
                  print_fn: Callable[[str], Any] | None = None, expand_nested: bool = False,
                  show_trainable: bool = False) -> None:
    """Print ``model``'s summary table, one line at a time through ``print_fn``."""
    print_fn = print_fn or print
    sequential_like = _sequential_like(model)
    header = ["Layer (type)", "Output Shape", "Param #"]
    aligns = ["left", "left", "right"]
    if sequential_like:
        length, default_positions = 88, [0.45, 0.80, 1.0]
    else:
        length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
        header.append("Connected to")
        aligns.append("left")
    positions = list(positions or default_positions)
    if show_trainable:
        length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        aligns.append("left")
    line_length = line_length or length
    if positions[-1] <= 1:
        positions = [int(p * line_length) for p in positions]
    widths, current = [], 0
    for pos in positions:
        width = int(pos) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width

    def fields(layer: Any, prefix: str, relevant: set) -> list:
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [f"{prefix}{layer.name} ({type(layer).__name__})",
               _format_shape(layer, relevant), params]
        if not sequential_like:
            row.append(_connections(layer, relevant))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        return row

    def rows_for(layer: Any, level: int, relevant: set) -> list:
        prefix = "   " * level + "└ " if level else ""
        rows = [fields(layer, prefix, relevant)]
        if expand_nested and hasattr(layer, "layers"):
            inner_relevant = _model_nodes(layer)
            for inner in layer.layers:
                rows.extend(rows_for(inner, level + 1, inner_relevant))
        return rows

    layers = model.layers
    if type(model).__name__ == "Sequential":
        layers = [layer for layer in layers if not isinstance(layer, InputLayer)]
    relevant = _model_nodes(model)
    rows = [row for layer in layers for row in rows_for(layer, 0, relevant)]

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    optimizer = getattr(model, "optimizer", None)
    opt_vars = list(optimizer.variables) if (getattr(model, "compiled", False) and optimizer
                                            is not None and optimizer.built) else []
    total = count_params(trainable) + count_params(non_trainable) + count_params(opt_vars)
    total_bytes = memory_size(trainable) + memory_size(non_trainable) + memory_size(opt_vars)

    print_fn(f'Model: "{model.name}"')
    for line in _render(rows, widths, aligns, header):
        print_fn(line)
    print_fn(f" Total params: {total:,} ({readable_memory_size(total_bytes)})")
    print_fn(f" Trainable params: {count_params(trainable):,} "
             f"({readable_memory_size(memory_size(trainable))})")
    print_fn(f" Non-trainable params: {count_params(non_trainable):,} "
             f"({readable_memory_size(memory_size(non_trainable))})")
    if opt_vars:
        print_fn(f" Optimizer params: {count_params(opt_vars):,} "
                 f"({readable_memory_size(memory_size(opt_vars))})")
