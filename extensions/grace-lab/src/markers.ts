/**
 * Findings shown where the code is: a coloured line decoration in the editor
 * (the rule, the explanation and the fix on hover) and a badge on the cell.
 */
import { StateEffect, StateField, Text } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView } from '@codemirror/view';
import { Cell } from '@jupyterlab/cells';
import { CodeEditor } from '@jupyterlab/codeeditor';
import { CodeMirrorEditor } from '@jupyterlab/codemirror';

import { IFinding, SEVERITIES, Severity } from './api';
import { h } from './dom';

const setFindings = StateEffect.define<IFinding[]>();

function worst(findings: IFinding[]): Severity {
  return findings.reduce<Severity>(
    (top, f) => (SEVERITIES.indexOf(f.severity) > SEVERITIES.indexOf(top) ? f.severity : top),
    'low'
  );
}

/** What hovering a marker says: rule, severity, explanation, fix. */
export function describe(finding: IFinding): string {
  const fix = finding.fix
    ? `Fix (automatic): ${finding.fix.description}`
    : finding.fix_hint
      ? `Fix: ${finding.fix_hint}`
      : '';
  return [
    `${finding.rule_id} (${finding.severity}${finding.cwe ? ', ' + finding.cwe : ''}): ${finding.title}`,
    finding.message,
    fix
  ]
    .filter(Boolean)
    .join('\n');
}

function build(doc: Text, findings: IFinding[]): DecorationSet {
  const byLine = new Map<number, IFinding[]>();
  for (const finding of findings) {
    if (finding.line >= 1 && finding.line <= doc.lines) {
      byLine.set(finding.line, [...(byLine.get(finding.line) ?? []), finding]);
    }
  }
  const ranges = [...byLine.entries()]
    .sort(([a], [b]) => a - b)
    .map(([line, here]) =>
      Decoration.line({
        attributes: {
          class: `grace-FindingLine grace-sev-${worst(here)}`,
          title: here.map(describe).join('\n\n'),
          'data-grace-rules': here.map(f => f.rule_id).join(' ')
        }
      }).range(doc.line(line).from)
    );
  return Decoration.set(ranges);
}

const findingsField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, transaction) {
    for (const effect of transaction.effects) {
      if (effect.is(setFindings)) {
        return build(transaction.state.doc, effect.value);
      }
    }
    return decorations.map(transaction.changes);
  },
  provide: field => EditorView.decorations.from(field)
});

const injected = new WeakSet<CodeMirrorEditor>();

/** Put (or, with no findings, clear) line markers in one editor. */
export function markEditor(editor: CodeEditor.IEditor | null | undefined, findings: IFinding[]): void {
  if (!(editor instanceof CodeMirrorEditor)) {
    return;
  }
  if (!injected.has(editor)) {
    editor.injectExtension(findingsField);
    injected.add(editor);
  }
  editor.editor.dispatch({ effects: setFindings.of(findings) });
}

/** Mark a notebook cell: its lines, and a badge naming the rules. */
export function markCell(cell: Cell, findings: IFinding[]): void {
  markEditor(cell.editor, findings);
  cell.node.querySelector(':scope > .grace-CellMarker')?.remove();
  cell.node.classList.remove(...SEVERITIES.map(s => `grace-cell-${s}`));
  if (!findings.length) {
    return;
  }
  const severity = worst(findings);
  cell.node.classList.add(`grace-cell-${severity}`);
  cell.node.append(
    h(
      'div',
      { class: `grace-CellMarker grace-sev-${severity}`, title: findings.map(describe).join('\n\n') },
      `${findings.length} finding${findings.length > 1 ? 's' : ''}: ${[...new Set(findings.map(f => f.rule_id))].join(', ')}`
    )
  );
}

/** A link on a held or denied cell to what blocks it (the approval request, or the alert). */
export function markBlocked(cell: Cell, text: string, onClick: () => void): void {
  cell.node.querySelector(':scope > .grace-CellBlocked')?.remove();
  const link = h('a', { class: 'grace-CellBlocked', href: '#' }, text);
  link.addEventListener('click', event => {
    event.preventDefault();
    onClick();
  });
  cell.node.append(link);
}
