/**
 * Scan, Apply fix and Quarantine, for notebook cells, whole notebooks and files.
 *
 * Scans call POST scan (nothing is recorded); findings below the
 * minimum-severity setting are not shown, and changing the setting re-filters
 * the markers already shown. Files are scanned again on save when the setting
 * says so. Fixes and quarantines go through Changes (backup, ledger
 * record, Undo).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog, Notification } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import { FileEditor, IEditorTracker } from '@jupyterlab/fileeditor';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { IFinding, IScanResult, request } from './api';
import { Changes } from './changes';
import { markCell, markEditor } from './markers';
import { GraceModel } from './model';

const REFRESH_FILES = 'filebrowser:refresh';

export class Scanner {
  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly model: GraceModel,
    private readonly notebooks: INotebookTracker,
    private readonly editors: IEditorTracker,
    private readonly docs: IDocumentManager,
    private readonly changes: Changes
  ) {
    editors.widgetAdded.connect((_, widget) => {
      widget.context.saveState.connect((__, state) => {
        if (state === 'completed' && this.model.scanOnSave) {
          void this.scanFile(widget);
        }
      });
    });
    model.settingsChanged.connect(() => this.refilter());
    changes.changed.connect((_, change) => {
      if (change) {
        void this.afterChange(change.kind, change.path, change.state);
      }
    });
  }

  /** The notebook or file the user works in, if any. */
  current(): IDocumentWidget | null {
    const widget = this.app.shell.currentWidget;
    if (widget instanceof NotebookPanel) {
      return widget;
    }
    const editor = this.editors.currentWidget;
    if (editor && widget === editor) {
      return editor;
    }
    return this.notebooks.currentWidget ?? this.editors.currentWidget;
  }

  async scanCell(panel = this.notebooks.currentWidget): Promise<IFinding[]> {
    const cell = panel?.content.activeCell;
    if (!cell || cell.model.type !== 'code') {
      return [];
    }
    const result = await request<IScanResult>('scan', {
      method: 'POST',
      body: { code: cell.model.sharedModel.getSource(), kind: 'cell' }
    });
    return this.showCell(cell, result.findings);
  }

  async scanNotebook(panel = this.notebooks.currentWidget): Promise<IFinding[]> {
    if (!panel) {
      return [];
    }
    const all: IFinding[] = [];
    for (const cell of panel.content.widgets) {
      if (cell.model.type !== 'code') {
        continue;
      }
      const result = await request<IScanResult>('scan', {
        method: 'POST',
        body: { code: cell.model.sharedModel.getSource(), kind: 'cell' }
      });
      all.push(...this.showCell(cell, result.findings));
    }
    this.summarize(panel.context.path, all);
    return all;
  }

  async scanFile(widget: IDocumentWidget<FileEditor> | null = this.editors.currentWidget): Promise<IFinding[]> {
    if (!widget) {
      return [];
    }
    if (widget.context.model.dirty) {
      await widget.context.save(); // the server scans the file as saved
    }
    const result = await request<IScanResult>('scan', {
      method: 'POST',
      body: { path: widget.context.path }
    });
    this.found.set(widget, result.findings);
    const shown = this.shown(result.findings);
    markEditor(widget.content.editor, shown);
    return shown;
  }

  private shown(findings: IFinding[]): IFinding[] {
    return findings.filter(f => this.model.shows(f.severity));
  }

  private showCell(cell: Cell, findings: IFinding[]): IFinding[] {
    this.found.set(cell, findings);
    const shown = this.shown(findings);
    markCell(cell, shown);
    return shown;
  }

  /** The minimum severity changed: mark again what the last scans found, without scanning. */
  private refilter(): void {
    this.editors.forEach(widget => {
      const found = this.found.get(widget);
      if (found) {
        markEditor(widget.content.editor, this.shown(found));
      }
    });
    this.notebooks.forEach(panel => {
      for (const cell of panel.content.widgets) {
        const found = this.found.get(cell);
        if (found) {
          markCell(cell, this.shown(found));
        }
      }
    });
  }

  /** Everything the last scan of a cell or file editor found, before the severity filter. */
  private readonly found = new WeakMap<object, IFinding[]>();

  /** Apply Hunter's automatic fixes to the current file or notebook (saved first). */
  async applyFix(): Promise<void> {
    const widget = this.current();
    if (!widget) {
      return;
    }
    await widget.context.save();
    try {
      await this.changes.fix(widget.context.path);
    } catch (error) {
      Notification.error(`Grace could not fix ${widget.context.path}: ${(error as Error).message}`, {
        autoClose: 8000
      });
    }
  }

  async quarantine(): Promise<void> {
    const widget = this.current();
    if (!widget) {
      return;
    }
    const path = widget.context.path;
    const answer = await InputDialog.getText({
      title: `Quarantine ${path}`,
      label: 'Why? (recorded in the ledger)',
      okLabel: 'Quarantine'
    });
    if (!answer.button.accept) {
      return;
    }
    if (widget.context.model.dirty) {
      // Only then: a save makes the file browser list the folder, and a listing that
      // runs while the file moves out fails ("Directory not found").
      await widget.context.save();
    }
    try {
      await this.changes.quarantine(path, answer.value ?? '');
    } catch (error) {
      Notification.error(`Grace could not quarantine ${path}: ${(error as Error).message}`, {
        autoClose: 8000
      });
    }
  }

  private async afterChange(kind: string, path: string, state: string): Promise<void> {
    const widget = this.docs.findWidget(path);
    if (kind === 'quarantine') {
      if (state === 'done' && widget && !widget.context.model.dirty) {
        await widget.close(); // the file is gone from the workspace
      }
      if (state !== 'waiting' && this.app.commands.hasCommand(REFRESH_FILES)) {
        // The server moved the file, not Jupyter's contents API: the file browser did not see it.
        await this.app.commands.execute(REFRESH_FILES);
      }
      return;
    }
    if (widget) {
      await widget.context.revert(); // the fix or its undo rewrote the file on disk
      if (widget.content instanceof FileEditor) {
        await this.scanFile(widget as IDocumentWidget<FileEditor>);
      } else if (widget instanceof NotebookPanel) {
        await this.scanNotebook(widget);
      }
    }
  }

  private summarize(path: string, findings: IFinding[]): void {
    const fixable = findings.filter(f => f.fix).length;
    const text = findings.length
      ? `Grace: ${findings.length} finding(s) in ${path}` + (fixable ? `, ${fixable} with an automatic fix` : '')
      : `Grace: no findings in ${path}`;
    Notification.info(text, { autoClose: 4000 });
  }
}
