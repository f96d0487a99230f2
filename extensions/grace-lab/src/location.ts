/**
 * Alert locations, parsed and opened.
 *
 * Grace writes three shapes (grace_kernel/hunter/_alerts.py):
 *  - governance and guard: `<notebook path>#<cell id>[@<code digest>]`
 *  - Hunter in a notebook: `<path> cell <index>:<line>`
 *  - Hunter in a file:     `<path>:<line>`
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import { FileEditor } from '@jupyterlab/fileeditor';
import { NotebookPanel } from '@jupyterlab/notebook';

export interface ILocation {
  path: string;
  cellId?: string;
  cellIndex?: number;
  line?: number;
}

export function parseLocation(location: string): ILocation | null {
  const hash = /^(.+?)#([^@:]+)(?:@[0-9a-f]+)?$/.exec(location);
  if (hash && !hash[1].startsWith('kernel:')) {
    return { path: hash[1], cellId: hash[2] };
  }
  const cell = /^(.+) cell (\d+):(\d+)$/.exec(location);
  if (cell) {
    return { path: cell[1], cellIndex: Number(cell[2]), line: Number(cell[3]) };
  }
  const line = /^(.+):(\d+)$/.exec(location);
  if (line && !line[1].startsWith('<')) {
    return { path: line[1], line: Number(line[2]) };
  }
  return null;
}

/** Open the notebook or file and put the cursor on the cell or line. */
export async function openLocation(app: JupyterFrontEnd, where: ILocation): Promise<void> {
  const widget = (await app.commands.execute('docmanager:open', {
    path: where.path
  })) as IDocumentWidget | undefined;
  if (!widget) {
    return;
  }
  await widget.context.ready;
  if (widget instanceof NotebookPanel) {
    const notebook = widget.content;
    let index = where.cellIndex ?? -1;
    if (where.cellId !== undefined) {
      index = notebook.widgets.findIndex(cell => cell.model.id === where.cellId);
    }
    if (index >= 0 && index < notebook.widgets.length) {
      notebook.activeCellIndex = index;
      await notebook.scrollToItem(index);
      const editor = notebook.activeCell?.editor;
      if (editor && where.line) {
        editor.setCursorPosition({ line: where.line - 1, column: 0 });
      }
    }
  } else if (widget.content instanceof FileEditor && where.line) {
    const editor = widget.content.editor;
    const position = { line: where.line - 1, column: 0 };
    editor.setCursorPosition(position);
    editor.revealPosition(position);
    editor.focus();
  }
  app.shell.activateById(widget.id);
}
