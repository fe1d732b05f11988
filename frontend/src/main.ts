import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { AppState } from './lib/app-state.svelte';
import { createApi } from './lib/api';

// The webview must never navigate away from the app: links open in the
// system browser (OpenURL) and dropped files must not replace the page.
function guardNavigation(): void {
  const stop = (e: Event) => {
    const a = (e.target as Element | null)?.closest?.('a[href]');
    if (a) e.preventDefault();
  };
  document.addEventListener('click', stop, true);
  document.addEventListener('auxclick', stop, true);
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}

function showFatal(target: HTMLElement, text: string): void {
  const box = document.createElement('div');
  box.setAttribute('role', 'alert');
  box.style.cssText = 'max-width:520px;margin:20vh auto;padding:24px;font:15px system-ui,sans-serif';
  box.textContent = text;
  target.replaceChildren(box);
}

async function start(): Promise<void> {
  const target = document.getElementById('app');
  if (!target) return;
  guardNavigation();
  try {
    const api = await createApi();
    const app = new AppState(api);
    mount(App, { target, props: { app } });
    await app.init();
  } catch (e) {
    showFatal(target, e instanceof Error ? e.message : String(e));
  }
}

void start();
