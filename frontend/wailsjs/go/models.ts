export namespace app {
	
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
	    status: string;
	    route: string;
	    code: string;
	    messages: Message[];
	    safetyNumber: string;
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
	        this.status = source["status"];
	        this.route = source["route"];
	        this.code = source["code"];
	        this.messages = this.convertValues(source["messages"], Message);
	        this.safetyNumber = source["safetyNumber"];
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
	export class Settings {
	    profile: string;
	    fingerprint: string;
	    server: string;
	    firstRun: boolean;
	    lanServer: string;
	    autoAcceptMaxBytes: number;
	
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
	    }
	}

}

