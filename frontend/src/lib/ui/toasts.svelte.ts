// Short notices ("Link copied") that never take focus.

export interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
}

export class ToastStore {
  items = $state<Toast[]>([]);
  private next = 1;

  show(text: string, tone: Toast['tone'] = 'info', ms = 2600): void {
    const id = this.next++;
    this.items = [...this.items, { id, text, tone }];
    if (ms > 0) setTimeout(() => this.dismiss(id), ms);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }
}
