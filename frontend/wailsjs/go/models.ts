export namespace app {
	
	export class DeviceChoice {
	    mic: string;
	    camera: string;
	    speaker: string;
	
	    static createFrom(source: any = {}) {
	        return new DeviceChoice(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.mic = source["mic"];
	        this.camera = source["camera"];
	        this.speaker = source["speaker"];
	    }
	}
	export class CallDevices {
	    microphones: call.Device[];
	    cameras: call.Device[];
	    speakers: call.Device[];
	    chosen: DeviceChoice;
	
	    static createFrom(source: any = {}) {
	        return new CallDevices(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.microphones = this.convertValues(source["microphones"], call.Device);
	        this.cameras = this.convertValues(source["cameras"], call.Device);
	        this.speakers = this.convertValues(source["speakers"], call.Device);
	        this.chosen = this.convertValues(source["chosen"], DeviceChoice);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	
	export class ImageView {
	    dataUrl: string;
	    width: number;
	    height: number;
	    sourceWidth: number;
	    sourceHeight: number;
	    name: string;
	
	    static createFrom(source: any = {}) {
	        return new ImageView(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.dataUrl = source["dataUrl"];
	        this.width = source["width"];
	        this.height = source["height"];
	        this.sourceWidth = source["sourceWidth"];
	        this.sourceHeight = source["sourceHeight"];
	        this.name = source["name"];
	    }
	}
	export class KeyChange {
	    oldSafetyNumber: string;
	    newSafetyNumber: string;
	
	    static createFrom(source: any = {}) {
	        return new KeyChange(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.oldSafetyNumber = source["oldSafetyNumber"];
	        this.newSafetyNumber = source["newSafetyNumber"];
	    }
	}
	export class Message {
	    id: string;
	    roomId: string;
	    outgoing: boolean;
	    text: string;
	    sentAt: number;
	    state: string;
	    replyTo: string;
	    edited: boolean;
	    deleted: boolean;
	    myReaction: string;
	    peerReaction: string;
	
	    static createFrom(source: any = {}) {
	        return new Message(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.roomId = source["roomId"];
	        this.outgoing = source["outgoing"];
	        this.text = source["text"];
	        this.sentAt = source["sentAt"];
	        this.state = source["state"];
	        this.replyTo = source["replyTo"];
	        this.edited = source["edited"];
	        this.deleted = source["deleted"];
	        this.myReaction = source["myReaction"];
	        this.peerReaction = source["peerReaction"];
	    }
	}
	export class MessagePage {
	    messages: Message[];
	    older: boolean;
	    newer: boolean;
	
	    static createFrom(source: any = {}) {
	        return new MessagePage(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.messages = this.convertValues(source["messages"], Message);
	        this.older = source["older"];
	        this.newer = source["newer"];
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class PendingLink {
	    id: number;
	    server: string;
	    host: string;
	    known: boolean;
	    roomId: string;
	    roomName: string;
	    code: string;
	    detail: string;
	
	    static createFrom(source: any = {}) {
	        return new PendingLink(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.server = source["server"];
	        this.host = source["host"];
	        this.known = source["known"];
	        this.roomId = source["roomId"];
	        this.roomName = source["roomName"];
	        this.code = source["code"];
	        this.detail = source["detail"];
	    }
	}
	export class RoomSummary {
	    id: string;
	    name: string;
	    link: string;
	    lastActive: number;
	    lastPreview: string;
	    expiresAt?: number;
	    open: boolean;
	    ended: string;
	    keyChanged: boolean;
	
	    static createFrom(source: any = {}) {
	        return new RoomSummary(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.name = source["name"];
	        this.link = source["link"];
	        this.lastActive = source["lastActive"];
	        this.lastPreview = source["lastPreview"];
	        this.expiresAt = source["expiresAt"];
	        this.open = source["open"];
	        this.ended = source["ended"];
	        this.keyChanged = source["keyChanged"];
	    }
	}
	export class RoomView {
	    id: string;
	    name: string;
	    link: string;
	    lastActive: number;
	    lastPreview: string;
	    expiresAt?: number;
	    open: boolean;
	    ended: string;
	    keyChanged: boolean;
	    status: string;
	    route: string;
	    code: string;
	    messages: Message[];
	    older: boolean;
	    safetyNumber: string;
	    keyChange?: KeyChange;
	    statusSeq: number;
	
	    static createFrom(source: any = {}) {
	        return new RoomView(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.name = source["name"];
	        this.link = source["link"];
	        this.lastActive = source["lastActive"];
	        this.lastPreview = source["lastPreview"];
	        this.expiresAt = source["expiresAt"];
	        this.open = source["open"];
	        this.ended = source["ended"];
	        this.keyChanged = source["keyChanged"];
	        this.status = source["status"];
	        this.route = source["route"];
	        this.code = source["code"];
	        this.messages = this.convertValues(source["messages"], Message);
	        this.older = source["older"];
	        this.safetyNumber = source["safetyNumber"];
	        this.keyChange = this.convertValues(source["keyChange"], KeyChange);
	        this.statusSeq = source["statusSeq"];
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class SearchResult {
	    matches: Message[];
	    next: string;
	
	    static createFrom(source: any = {}) {
	        return new SearchResult(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.matches = this.convertValues(source["matches"], Message);
	        this.next = source["next"];
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}
	export class Settings {
	    profile: string;
	    fingerprint: string;
	    server: string;
	    firstRun: boolean;
	    lanServer: string;
	    autoAcceptMaxBytes: number;
	    relayOnly: boolean;
	
	    static createFrom(source: any = {}) {
	        return new Settings(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.profile = source["profile"];
	        this.fingerprint = source["fingerprint"];
	        this.server = source["server"];
	        this.firstRun = source["firstRun"];
	        this.lanServer = source["lanServer"];
	        this.autoAcceptMaxBytes = source["autoAcceptMaxBytes"];
	        this.relayOnly = source["relayOnly"];
	    }
	}
	export class Transfer {
	    id: string;
	    roomId: string;
	    name: string;
	    outgoing: boolean;
	    bytes: number;
	    total: number;
	    rate: number;
	    etaSeconds: number;
	    state: string;
	    error: string;
	    path: string;
	    image: string;
	    imageError: string;
	    folder: boolean;
	    files: number;
	    filesDone: number;
	    skipped: number;
	
	    static createFrom(source: any = {}) {
	        return new Transfer(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.roomId = source["roomId"];
	        this.name = source["name"];
	        this.outgoing = source["outgoing"];
	        this.bytes = source["bytes"];
	        this.total = source["total"];
	        this.rate = source["rate"];
	        this.etaSeconds = source["etaSeconds"];
	        this.state = source["state"];
	        this.error = source["error"];
	        this.path = source["path"];
	        this.image = source["image"];
	        this.imageError = source["imageError"];
	        this.folder = source["folder"];
	        this.files = source["files"];
	        this.filesDone = source["filesDone"];
	        this.skipped = source["skipped"];
	    }
	}

}

export namespace buildinfo {
	
	export class Component {
	    name: string;
	    version: string;
	    license: string;
	
	    static createFrom(source: any = {}) {
	        return new Component(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.name = source["name"];
	        this.version = source["version"];
	        this.license = source["license"];
	    }
	}
	export class Info {
	    version: string;
	    commit: string;
	    goVersion: string;
	    components: Component[];
	
	    static createFrom(source: any = {}) {
	        return new Info(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.version = source["version"];
	        this.commit = source["commit"];
	        this.goVersion = source["goVersion"];
	        this.components = this.convertValues(source["components"], Component);
	    }
	
		convertValues(a: any, classs: any, asMap: boolean = false): any {
		    if (!a) {
		        return a;
		    }
		    if (a.slice && a.map) {
		        return (a as any[]).map(elem => this.convertValues(elem, classs));
		    } else if ("object" === typeof a) {
		        if (asMap) {
		            for (const key of Object.keys(a)) {
		                a[key] = new classs(a[key]);
		            }
		            return a;
		        }
		        return new classs(a);
		    }
		    return a;
		}
	}

}

export namespace call {
	
	export class Device {
	    id: string;
	    label: string;
	
	    static createFrom(source: any = {}) {
	        return new Device(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.label = source["label"];
	    }
	}
	export class ScreenSource {
	    id: string;
	    title: string;
	    width: number;
	    height: number;
	
	    static createFrom(source: any = {}) {
	        return new ScreenSource(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.id = source["id"];
	        this.title = source["title"];
	        this.width = source["width"];
	        this.height = source["height"];
	    }
	}
	export class View {
	    roomId: string;
	    state: string;
	    video: boolean;
	    localVideo: boolean;
	    remoteVideo: boolean;
	    micMuted: boolean;
	    remoteMuted: boolean;
	    startedAt?: number;
	    error: string;
	    screen: boolean;
	    remoteScreen: boolean;
	    localCamera: boolean;
	    remoteCamera: boolean;
	
	    static createFrom(source: any = {}) {
	        return new View(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.roomId = source["roomId"];
	        this.state = source["state"];
	        this.video = source["video"];
	        this.localVideo = source["localVideo"];
	        this.remoteVideo = source["remoteVideo"];
	        this.micMuted = source["micMuted"];
	        this.remoteMuted = source["remoteMuted"];
	        this.startedAt = source["startedAt"];
	        this.error = source["error"];
	        this.screen = source["screen"];
	        this.remoteScreen = source["remoteScreen"];
	        this.localCamera = source["localCamera"];
	        this.remoteCamera = source["remoteCamera"];
	    }
	}

}

export namespace mediahub {
	
	export class Endpoint {
	    url: string;
	    token: string;
	
	    static createFrom(source: any = {}) {
	        return new Endpoint(source);
	    }
	
	    constructor(source: any = {}) {
	        if ('string' === typeof source) source = JSON.parse(source);
	        this.url = source["url"];
	        this.token = source["token"];
	    }
	}

}

