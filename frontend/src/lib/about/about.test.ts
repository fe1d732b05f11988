import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import About from './About.svelte';
import { FakeApi } from '../fake-api';
import { WailsApi } from '../api';

afterEach(() => cleanup());

describe('About', () => {
  it('shows the version, the commit and each component with its license', async () => {
    render(About, { api: new FakeApi() });
    expect(await screen.findByText('Parley dev')).toBeTruthy();
    expect(screen.getByText('0123456789ab')).toBeTruthy();
    const row = screen.getByText('github.com/pion/webrtc/v4').closest('tr');
    expect(row?.textContent).toContain('v4.2.26');
    expect(row?.textContent).toContain('MIT');
  });

  it('says what went wrong when the backend cannot answer', async () => {
    const api = new FakeApi();
    api.failNext('about', 'INTERNAL');
    render(About, { api });
    expect((await screen.findByRole('alert')).textContent).not.toBe('');
  });

  it('binds App.About; a Go nil component list becomes []', async () => {
    const App = { About: vi.fn().mockResolvedValue({ version: '1.2.3', commit: 'abc', goVersion: 'go1.26.8', components: null }) };
    const api = new WailsApi(App as never, { EventsOn: () => () => {} });
    expect(await api.about()).toEqual({ version: '1.2.3', commit: 'abc', goVersion: 'go1.26.8', components: [] });
  });
});
