// The local settings: which signaling server new rooms use, how files
// are accepted, and whether connections go through the relay.

import type { Api, Settings } from '../types';
import { explain, toApiError, type Explained } from '../errors';

export class SettingsStore {
  value = $state<Settings | null>(null);
  busy = $state(false);
  error = $state<Explained | null>(null);

  constructor(private readonly api: Api) {}

  /** True until a server was chosen once (first run). */
  get needsChoice(): boolean {
    return this.value?.firstRun === true;
  }

  async load(): Promise<void> {
    this.value = await this.api.getSettings();
  }

  /** Runs a signaling server inside the app on this computer. */
  useLAN(): Promise<boolean> {
    return this.apply(() => this.api.startLANServer());
  }

  /** Uses a server at `url` for new rooms. */
  useServer(url: string): Promise<boolean> {
    if (!url.trim()) {
      this.error = { ...explain('SERVER_UNREACHABLE'), sentence: 'Enter the address of a Parley server.' };
      return Promise.resolve(false);
    }
    return this.apply(() => this.api.setServer(url.trim()));
  }

  /** Saves incoming files up to `bytes` without asking (0: always ask). */
  setAutoAccept(bytes: number): Promise<boolean> {
    return this.apply(() => this.api.setAutoAcceptLimit(bytes));
  }

  /** Relays every new room's connection through the server. */
  setRelayOnly(on: boolean): Promise<boolean> {
    return this.apply(() => this.api.setRelayOnly(on));
  }

  private async apply(f: () => Promise<Settings>): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      this.value = await f();
      return true;
    } catch (e) {
      const code = toApiError(e).code;
      // SetServer reports a malformed address as BAD_LINK; say it in server words.
      this.error =
        code === 'BAD_LINK'
          ? { code, sentence: 'That is not a server address.', next: 'Use the form https://host or https://host:port.' }
          : explain(code);
      return false;
    } finally {
      this.busy = false;
    }
  }
}
