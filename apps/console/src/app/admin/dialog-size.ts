import type { MatDialogConfig } from '@angular/material/dialog';

/** `width` where there is room; on a phone the whole width but a small margin. */
export function dialogSize(width: string): Pick<MatDialogConfig, 'width' | 'maxWidth'> {
  return { width: `min(${width}, calc(100vw - 16px))`, maxWidth: 'calc(100vw - 16px)' };
}
