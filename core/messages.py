"""Every user-visible sentence, in English and Korean. Handlers and pipelines refer to keys, never to text.

Keys are grouped by area. Placeholders use ``str.format`` names; every language must have every key
(a test checks this).
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "ko")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # --- chat ---
        "start": (
            "Hi! I'm Atelier, a portrait studio.\n"
            "Send a photo of a face wearing a mask with the caption /unmask and I'll remove the mask.\n"
            "/help lists everything I can do."
        ),
        "help": (
            "What I can do:\n"
            "/unmask - send a photo of a face wearing a mask with this caption (or reply /unmask to a photo, "
            "or send /unmask and then the photo). You get back the same photo with the mask removed, as a photo "
            "and as a full-resolution file.\n"
            "/suit - send a selfie with this caption for a formal ID photo: a suit painted on, plain background, "
            "cropped to an ID format at 300 dpi, plus a print sheet. Options after the command, e.g. "
            "/suit charcoal no-tie grey 3x4 (styles: navy, charcoal, black, women; backgrounds: white, grey, "
            "blue; formats: passport, kr-passport, 3x4, 2x2). Send /suit alone to pick with buttons. To follow "
            "a particular suit, reply to your selfie with a photo of that suit captioned /suit.\n"
            "/tryon - see yourself in another top: send two photos as one album captioned /tryon, first a photo "
            "of you (upper body, facing the camera), then a photo of the top (a shop photo is fine). Or reply to "
            "your photo with the top's photo captioned /tryon, or send /tryon and then the two photos. You get "
            "back your photo wearing the top, as a photo and as a full-resolution file.\n"
            "/sketch - draw a face and get it back photo-real: send /sketch to open the drawing canvas, or send "
            "a photo of a face drawn on paper (or an image file) captioned /sketch, with a strength from 0 "
            "(loose) to 1 (close) if you like, e.g. /sketch 0.7.\n"
            "/train - teach me your face from 5 to 20 of your selfies; afterwards /unmask and /suit make faces "
            "that look like you. /done starts the training once the selfies are in.\n"
            "/status - your queued and running jobs, and your model\n"
            "/cancel - stop your running job or training\n"
            "/settings - whether your model is used, whether your original selfies are kept\n"
            "/forget - delete everything I store about you\n"
            "/privacy - what I keep about you, and for how long\n"
            "/help - this message"
        ),
        "cmd.start": "Start",
        "cmd.help": "What this bot can do",
        "cmd.unmask": "Remove a face mask from a photo",
        "unmask.send_photo": "Now send the photo (as a photo or as a file) within {minutes} minutes.",
        "unmask.which_command": (
            "What should I do with this photo? Send it with the caption /unmask, /suit or /tryon, or reply "
            "with the command to it."
        ),
        "job.queued": "Queued (position {position}).",
        "job.running": "Working on it: {stage} {percent}%",
        "job.done": "Done.",
        "job.failed": "Sorry, that did not work: {reason}",
        "job.crashed": (
            "Sorry, this photo kept crashing our worker, so I gave up after {attempts} attempts. "
            "Please try another photo."
        ),
        "job.timed_out": "Sorry, this took too long and was stopped. Please try a smaller photo.",
        "job.cancelled": "Cancelled.",
        "result.caption": "Here is your photo without the mask. The file below has the full resolution.",
        "result.document_reduced": "The full-resolution file is larger than Telegram lets a bot send ({limit_mb} MB), so this file is a high-quality JPEG.",
        "result.upload_reduced": "The full-resolution file is larger than this server lets a bot upload ({limit_mb} MB), so this file is a high-quality JPEG.",
        "error.internal": "Sorry, something went wrong on our side (error id {error_id}). Please try again later.",
        "error.busy": "The studio is busy right now. Please try again in a minute.",
        "stage.queued": "queued",
        "stage.detect": "finding faces",
        "stage.classify": "looking for masks",
        "stage.segment": "outlining the mask",
        "stage.upscale": "enlarging the face",
        "stage.inpaint": "painting the face",
        "stage.composite": "finishing",
        # --- intake ---
        "intake.too_large": "This file is {size_mb} MB; the limit is {limit_mb} MB. Please send a smaller photo.",
        "intake.empty": "This file is empty. Please send a photo.",
        "intake.not_image": ("This file is not a photo I can read. Please send a JPEG, PNG or WebP image."),
        "quota.active": "You already have {count} photos being made. Please wait until one is ready, then send the next.",
        "quota.hourly": "You have sent {count} photos in the last hour, the most I take in an hour. Please try again in {minutes} min.",
        "quota.chat": "This chat already has {count} photos being made. Please try again when one of them is ready.",
        "quota.busy": "The studio is very busy right now ({count} photos waiting). Please try again in a few minutes.",
        "photo.not_yours": "I only edit photos that you sent yourself. Please send your own photo with the command as its caption, or reply to it.",
        "intake.unsupported_format": (
            "{format} images are not supported. Please send a JPEG, PNG or WebP image."
        ),
        "intake.corrupt": "This image is damaged or incomplete. Please send the photo again.",
        "intake.too_many_pixels": (
            "This image is {megapixels} megapixels; the limit is {limit_megapixels}. Please send a smaller photo."
        ),
        "intake.animated": "Animated images are not supported. Please send a still photo.",
        "intake.too_small": "This image is only {width}×{height} pixels. Please send a photo at least {min_side} pixels on each side.",
        "intake.bad_aspect": (
            "This image is too long and thin ({width}×{height}). Please crop it closer to the face."
        ),
        # --- unmask ---
        "unmask.no_face": "I could not find a face in this photo. Please send a photo where the face is clearly visible.",
        "unmask.no_mask": "I found a face but no face mask on it. Please send a photo of someone wearing a mask.",
        "unmask.unsafe_result": (
            "The content filter stopped this result, so I did not send it. Please try another photo."
        ),
        "unmask.face_too_small": (
            "The face is too small ({face_px} pixels across; I need at least {min_px}). "
            "Please send a closer or higher-resolution photo."
        ),
        # --- suit ---
        "cmd.suit": "A formal ID photo in a suit",
        "suit.send_photo": (
            "Now send your photo within {minutes} minutes (a selfie facing the camera, shoulders visible).\n"
            "Your choice: {summary}. Tap the buttons to change it."
        ),
        "suit.summary": "{style}, {tie}, {background} background, {format}",
        "suit.expired": "These options have expired. Send /suit again.",
        "suit.caption": "Your ID photo ({format}, {dpi} dpi). The file below has the full resolution.",
        "result.sheet": (
            "Print sheet for {paper} paper at {dpi} dpi. Print at 100% (no scaling) and cut along the marks."
        ),
        "suit.style.navy": "Navy",
        "suit.style.charcoal": "Charcoal",
        "suit.style.black": "Black",
        "suit.tie.tie": "Tie",
        "suit.tie.no-tie": "No tie",
        "suit.cut.classic": "Classic cut",
        "suit.cut.women": "Women's cut",
        "suit.background.white": "White",
        "suit.background.grey": "Light grey",
        "suit.background.blue": "Light blue",
        "suit.format.passport-35x45": "Passport/visa 35×45 mm",
        "suit.format.kr-passport-35x45": "Korean passport 3.5×4.5 cm",
        "suit.format.kr-resume-30x40": "Resumé 3×4 cm",
        "suit.format.us-2x2in": "US 2×2 in",
        "suit.paper.4x6in": "4×6 in",
        "suit.paper.10x15cm": "10×15 cm",
        "suit.no_face": "I could not find a face in this photo. Please send a photo where your face is clearly visible.",
        "suit.several_faces": (
            "I found {count} faces in this photo. An ID photo shows one person: please send a photo of you alone."
        ),
        "suit.face_cut": (
            "Your face is cut off by the edge of the photo. Please send a photo with your whole head and your "
            "shoulders in the frame."
        ),
        "suit.head_cut_off": (
            "The top of your head is cut off. Please send a photo with some space above your hair."
        ),
        "suit.face_too_small": (
            "The face is too small ({face_px} pixels across; I need at least {min_px}). "
            "Please send a closer or higher-resolution photo."
        ),
        "suit.low_resolution": (
            "This photo's resolution is too low for an ID photo: your head is {head_px} pixels tall and this "
            "format needs at least {needed_px}. Please send a closer or higher-resolution photo."
        ),
        "suit.head_tilted": (
            "Your head is tilted by about {degrees}°. Please send a photo with your head straight."
        ),
        "suit.head_turned": "Your head is turned to the side. Please send a photo looking straight at the camera.",
        "suit.format_impossible": (
            "I could not fit your head into this format's rules. Please try a photo taken straight on, "
            "from a little further away."
        ),
        "suit.unknown_option": (
            'I don\'t know the option "{option}". Styles: navy, charcoal, black, women, no-tie; backgrounds: '
            "white, grey, blue; formats: passport, kr-passport, 3x4, 2x2; 600 for 600 dpi."
        ),
        "suit.background_not_allowed": (
            "This format needs a white background, not {background}. Choose white, or another format."
        ),
        "stage.parse": "finding face and hair",
        "stage.layout": "framing the photo",
        "stage.background": "replacing the background",
        "stage.paint": "tailoring the suit",
        "stage.sheet": "laying out the print sheet",
        "stage.person": "finding you in the photo",
        "stage.garment": "cutting out the garment",
        "stage.fit": "fitting the garment to you",
        "stage.tryon": "dressing you",
        # --- tryon ---
        "cmd.tryon": "Try a top on your photo",
        "tryon.send_photos": (
            "Send me two photos within {minutes} minutes: first a photo of you (upper body, facing the camera), "
            "then a photo of the top to try on. You can send both at once as an album."
        ),
        "tryon.send_garment": "Got your photo. Now send a photo of the top to try on within {minutes} minutes.",
        "tryon.send_person": (
            "Got the top. Now send a photo of yourself (upper body, facing the camera) within {minutes} minutes."
        ),
        "tryon.expired": "I no longer have your first photo: it waits only a few minutes. Please send /tryon with both photos again.",
        "tryon.caption": "Here you are wearing the top. The file below has the full resolution.",
        "tryon.no_person": "I could not find a person in your photo. Please send a photo of yourself from the waist up, facing the camera.",
        "tryon.several_people": "I found {count} people in your photo. Please send a photo of you alone.",
        "tryon.no_upper_body": (
            "I cannot see your upper body well enough. Please send a photo showing you from the head down to "
            "the waist, facing the camera, arms not in front of your chest."
        ),
        "tryon.no_garment": (
            "I could not find a top in the second photo. Please send a photo of a shirt, T-shirt, blouse, "
            "sweater or jacket on its own, laid flat or on a hanger, ideally on a plain background."
        ),
        "tryon.same_photo": "Both photos are the same. Please send a photo of you first, then a different photo of the top to try on.",
        # --- sketch (the pipeline's texts) ---
        "status.kind.sketch": "/sketch",
        "stage.drawing": "cleaning up your drawing",
        "stage.face_layout": "finding the face in your drawing",
        "stage.sketch": "drawing the face",
        "sketch.caption": "Here is the face from your drawing. The file below has the full resolution.",
        "sketch.empty": (
            "Your drawing looks empty. Please draw a whole face (its outline, eyes, nose and mouth) with dark "
            "lines on a light background and send it again."
        ),
        "sketch.photo": (
            "This looks like a photo of a real face, not a drawing. /sketch turns drawings into faces; for a "
            "photo, try /unmask or /suit."
        ),
        "sketch.no_face": (
            "I could not find a face in your drawing. Please draw a face seen from the front, with its outline, "
            "both eyes, a nose and a mouth, large enough to fill most of the picture."
        ),
        "sketch.strength": "The strength must be a number from 0 (loose) to 1 (follows your lines closely).",
        # --- sketch (chat) ---
        "cmd.sketch": "A photo-real face from your drawing",
        "sketch.canvas": "Draw a face on the canvas and you get it back here as a photo-real face.",
        "sketch.canvas_button": "Open canvas",
        "sketch.how": (
            "You can also send a photo of a face drawn on paper, or an image file, with the caption /sketch, "
            "adding a strength from 0 (loose) to 1 (close) if you like, e.g. /sketch 0.7 (0.6 if left out)."
        ),
        "sketch.how.discord": (
            "You can also attach a face drawn on paper (a photo or an image file) to /sketch as drawing:, with "
            "strength: from 0 (loose) to 1 (close); 0.6 if left out."
        ),
        "sketch.how.console": (
            "You can also give a drawing's file: /sketch drawing.png 0.7 (the strength from 0, loose, to 1, "
            "close; 0.6 if left out)."
        ),
        "sketch.bad_strength": (
            "“{word}” is not a strength I can use: after /sketch give one number from 0 (loose) to 1 (follows "
            "your lines closely), e.g. /sketch 0.7."
        ),
        "sketch.unavailable": (
            "Sorry, this server cannot draw faces: /sketch needs a face model that is not installed here. "
            "/help lists what I can do."
        ),
        # --- train ---
        "cmd.train": "Teach me your face from your selfies",
        "cmd.done": "Finish sending selfies and start training",
        "cmd.cancel": "Cancel your running job or training",
        "cmd.settings": "Your settings",
        "cmd.forget": "Delete everything I store about you",
        "cmd.privacy": "What I keep about you, and for how long",
        "privacy": (
            "What I keep and for how long:\n"
            "• The photos and drawings you send for /unmask, /suit, /tryon and /sketch, and their results, are "
            "deleted {days} days "
            "after the job ends; a job that failed or was cancelled loses its photo at once. The first photo of "
            "a /tryon waits only a few minutes for the second; if it never comes, the first is deleted.\n"
            "• Every result is checked for nudity before it is sent. A result that fails the check is deleted, "
            "never sent and never kept.\n"
            "• /train: your original selfies are deleted when training finishes (unless you keep them in "
            "/settings); small face crops and your model stay until you send /forget.\n"
            "• What you send is used only for your own requests: never for anyone else, never to train anything "
            "but your own model.\n"
            "• /forget deletes everything about you now: photos, results, selfies, model and jobs."
        ),
        "moderation.flagged": "the result did not pass our content check, so it was deleted without being sent. Please try another photo.",
        # --- operators ---
        "cmd.admin": "Operators: queues, workers, users, pause",
        "opt.admin.args": "status | jobs USER | ban USER [reason] | unban USER | pause | resume",
        "admin.refused": "That command is for the studio's operators only.",
        "admin.usage": (
            "/admin - queues, workers and whether the studio is paused\n"
            "/admin jobs USER - a user's last jobs\n"
            "/admin ban USER [reason] - ignore a user (they are told once)\n"
            "/admin unban USER - let them back in\n"
            "/admin pause - refuse new jobs (queued and running ones go on)\n"
            "/admin resume - take new jobs again\n"
            "USER is a user id on this platform, or platform:id."
        ),
        "admin.status": "Studio: {state}\nWorkers: {workers}\n{queues}",
        "admin.state.open": "open",
        "admin.state.paused": "paused (new jobs are refused)",
        "admin.workers_unknown": "cannot be asked from here",
        "admin.queue": "{queue}: {queued} queued, {running} running",
        "admin.no_queues": "No job is queued or running.",
        "admin.jobs": "Last jobs of {user}:\n{lines}",
        "admin.job": "{created} {kind} {state} {job_id}{error}",
        "admin.no_jobs": "{user} has no jobs.",
        "admin.no_user": "Say which user: /admin {action} USER (a user id, or platform:id).",
        "admin.banned": "{user} is banned: they are told once, then nothing they send is answered.",
        "admin.already_banned": "{user} was banned already.",
        "admin.not_an_operator": "{user} is an operator and cannot be banned; remove them from the operators first.",
        "admin.unbanned": "{user} may use the studio again.",
        "admin.not_banned": "{user} is not banned.",
        "admin.paused": "The studio is paused: new jobs are refused; queued and running jobs go on.",
        "admin.resumed": "The studio takes new jobs again.",
        "banned": "You can no longer use this studio. Further messages will not be answered.",
        "studio.paused": "The studio is paused for maintenance and takes no new jobs right now. Please try again later.",
        "train.consent": (
            "Before you send selfies, please read this.\n"
            "• Send only photos of yourself. Training a model of someone else's face is not allowed.\n"
            "• I keep your selfies only to train your personal model. The original photos are deleted once "
            "training finishes (unless you choose to keep them in /settings); small face crops and your model "
            "stay so that /unmask and /suit can make results that look like you.\n"
            "• Your model is used only for your own requests, never for anyone else's.\n"
            "• /forget deletes your selfies, model, photos, results and jobs at any time.\n"
            "Do you agree?"
        ),
        "train.agree": "I agree",
        "train.decline": "No, thanks",
        "train.declined": "OK, nothing was stored. Send /train if you change your mind.",
        "train.send_selfies": (
            "Send {min} to {max} selfies of yourself: one by one or as an album, face clearly visible, no mask "
            "or sunglasses, different days or light if you can. I check each one. When you are done, send "
            "/done.\nAccepted so far: {count}."
        ),
        "train.consent_required": "Please send /train and accept the consent first; no selfie is stored before that.",
        "train.already_training": "Your model is being trained right now. Send /cancel to stop it.",
        "train.too_many": "You already have {max} selfies, the most I use. Send /done to start training.",
        "train.still_checking": "I am still checking {count} of your photos. Send /done again in a moment.",
        "train.need_more": "I have {have} accepted selfies; I need at least {need}. Please send more, then /done.",
        "train.busy": "Too many models are being trained right now. Please send /done again in a few minutes.",
        "train.selfie_ok": "Accepted ({count} so far; {min} to {max} needed). Send more, or /done when finished.",
        "train.selfie_rejected": "Not used: {reason}",
        "train.selfie.no_face": "I could not find a face in this photo.",
        "train.selfie.several_faces": "I found {count} faces; please send selfies of you alone.",
        "train.selfie.too_small": "the face is too small ({face_px} pixels across; I need at least {min_px}). Please send a closer photo.",
        "train.selfie.blurry": "the photo is blurry. Please send a sharp one.",
        "train.selfie.duplicate": "this is the same photo as one you already sent.",
        "train.selfie.different_person": "this does not look like the same person as your other selfies.",
        "train.selfie.masked": "the face wears a mask. Please send selfies without a mask.",
        "train.queued": "Training queued (position {position}). I will tell you when your model is ready; /cancel stops it.",
        "train.progress": "Training your model: step {step} of {total}, about {eta} left. /cancel stops it.",
        "train.ready": (
            "Your model is ready (trained on {count} selfies). From now on /unmask and /suit make faces that "
            "look like you. /settings turns this off."
        ),
        "train.ready_references": (
            "Your selfies are ready ({count}). From now on /unmask uses your own face from them. "
            "/settings turns this off."
        ),
        "train.eta_minutes": "{minutes} min",
        "train.eta_seconds": "{seconds} s",
        "stage.check": "checking the selfie",
        "stage.prepare": "preparing your selfies",
        "stage.train": "training your model",
        "stage.publish": "saving your model",
        "stage.likeness": "comparing with your selfies",
        "result.likeness": "Likeness to your selfies: face distance {distance} (below 0.6 usually means the same person).",
        # --- cancel, settings, forget ---
        "cancel.done": "Cancelled {count} job(s).",
        "cancel.nothing": "Nothing to cancel.",
        "settings.text": "Your settings:\n• Use my model in /unmask and /suit: {use_identity}\n• Keep my original selfies after training: {keep_selfies}",
        "settings.use_identity": "Use my model",
        "settings.keep_selfies": "Keep my selfies",
        "settings.on": "on",
        "settings.off": "off",
        "settings.unknown": 'There is no setting "{name}".',
        "forget.confirm": "This deletes your selfies, your model, your photos, results and jobs, and cancels what is running. It cannot be undone.",
        "forget.yes": "Delete everything",
        "forget.no": "Keep it",
        "forget.kept": "Nothing was deleted.",
        "forget.done": (
            "Deleted: {selfies} selfie(s), {models} model(s), {jobs} job(s) with their photos and results "
            "({files} files), your consent and settings. Cancelled {cancelled} running or queued job(s)."
        ),
        # --- buttons, /status ---
        "cmd.status": "Your jobs and your model",
        "help.discord": (
            "What I can do:\n"
            "/unmask photo: - attach a photo of a face wearing a mask; you get it back with the mask removed.\n"
            "/suit photo: - attach a selfie for a formal ID photo: a suit painted on, plain background, cropped "
            "to an ID format at 300 dpi, plus a print sheet. Pick style, look, background and format in the "
            "command's options; attach a picture of a suit as example: to follow it.\n"
            "/tryon photo: garment: - attach a photo of you (upper body, facing the camera) and a photo of a top "
            "(a shop photo is fine); you get back your photo wearing that top.\n"
            "/sketch drawing: strength: - attach a face drawn on paper (a photo or an image file) and get it "
            "back photo-real; strength: from 0 (loose) to 1 (close), 0.6 if left out. /sketch without a drawing "
            "gives you a link to the drawing canvas.\n"
            "/train - teach me your face from 5 to 20 of your selfies: agree to the terms, then send /train with "
            "up to 10 photos at a time, as often as you like, and press Start training (or send /done). "
            "Afterwards /unmask and /suit make faces that look like you.\n"
            "/status - your queued and running jobs, and your model\n"
            "/cancel - stop your running jobs or training\n"
            "/settings - whether your model is used, whether your original selfies are kept\n"
            "/forget - delete everything I store about you\n"
            "/privacy - what I keep about you, and for how long\n"
            "Buttons under a message answer only the person who asked. Errors are shown only to you."
        ),
        "opt.unmask.photo": "A photo of a face wearing a mask",
        "opt.suit.photo": "A selfie or ID photo of you",
        "opt.suit.style": "Suit colour",
        "opt.suit.look": "Tie, no tie, or women's cut",
        "opt.suit.background": "Background colour",
        "opt.suit.format": "ID photo size",
        "opt.suit.example": "A picture of the suit to follow (optional)",
        "opt.tryon.photo": "A photo of you: upper body, facing the camera",
        "opt.tryon.garment": "A photo of the top to try on (a shop photo is fine)",
        "opt.sketch.drawing": "A face drawn on paper (a photo) or an image file; none: open the canvas",
        "opt.sketch.strength": "How closely the face follows your lines: 0 to 1 (0.6 if left out)",
        "opt.train.photo": "A selfie of you (up to 10 at once)",
        "console.no_file": "There is no file at {path}.",
        "console.unknown": "I don't know that command. /help lists what I can do.",
        "button.not_yours": "These buttons belong to someone else.",
        "job.cancel_button": "Cancel",
        "job.ended": "Stopped: see the message below.",
        "job.retry_button": "Try again",
        "job.gone": "That job is no longer there.",
        "job.already_finished": "That job has already finished.",
        "train.start_button": "Start training",
        "train.checking": "Checking {count} photo(s); you will get a verdict for each.",
        "train.photo_refused": "Photo {number} not used: {reason}",
        "status.idle": "Nothing of yours is queued or running.",
        "status.queued": "• {what}: queued (position {position})",
        "status.running": "• {what}: {stage} {percent}%",
        "status.kind.unmask": "/unmask",
        "status.kind.suit": "/suit",
        "status.kind.tryon": "/tryon",
        "status.kind.selfie": "selfie check",
        "status.kind.train": "training",
        "status.model_ready": "Your model: ready (trained on {selfies} selfies, {date}).",
        "status.collecting": "Your model: {count} selfie(s) accepted so far; /done needs at least {min}.",
        "status.no_model": "Your model: none yet. /train makes one from your selfies.",
        # --- the /sketch canvas (bots/web) ---
        "web.title": "Draw a face",
        "web.brush": "Brush",
        "web.eraser": "Eraser",
        "web.size": "Size",
        "web.undo": "Undo",
        "web.clear": "Clear",
        "web.strength": "Follow my lines",
        "web.preview": "Live preview",
        "web.submit": "Make my face",
        "web.sending": "Sending your drawing…",
        "web.previewing": "Painting a preview…",
        "web.queued": "Queued (position {position}). The face comes to your chat too.",
        "web.done": "Done. The face is in your chat too.",
        "web.preview_done": "Preview. Press “Make my face” for the full one in your chat.",
        "web.blank": "Draw a face first.",
        "web.unauthorized": "This canvas is no longer valid. Send /sketch in the chat to open a new one.",
        "web.bad_request": "The drawing did not arrive whole. Please try again.",
        "web.preview_wait": "The preview is taking a breath; it paints again in a few seconds.",
        "web.network": "No connection to the studio. Please try again.",
        "web.result": "Your face",
    },
    "ko": {
        "start": (
            "안녕하세요! 포트레이트 스튜디오 Atelier입니다.\n"
            "마스크를 쓴 얼굴 사진을 /unmask 캡션과 함께 보내 주시면 마스크를 지워 드립니다.\n"
            "/help 로 모든 기능을 볼 수 있습니다."
        ),
        "help": (
            "사용할 수 있는 기능:\n"
            "/unmask - 마스크를 쓴 얼굴 사진에 이 캡션을 달아 보내 주세요 (사진에 /unmask 로 답장하거나, "
            "/unmask 를 보낸 뒤 사진을 보내도 됩니다). 마스크를 지운 같은 사진을 사진과 원본 해상도 파일로 "
            "돌려드립니다.\n"
            "/suit - 셀카에 이 캡션을 달아 보내면 정장을 입힌 증명사진을 만들어 드립니다: 단색 배경, 규격에 맞춘 "
            "300dpi 사진과 인화용 시트. 명령 뒤에 옵션을 적을 수 있습니다. 예: /suit charcoal no-tie grey 3x4 "
            "(스타일: navy, charcoal, black, women / 배경: white, grey, blue / 규격: passport, kr-passport, "
            "3x4, 2x2). /suit 만 보내면 버튼으로 고를 수 있습니다. 원하는 정장이 있으면 그 정장 사진에 /suit "
            "캡션을 달아 셀카에 답장으로 보내 주세요.\n"
            "/tryon - 다른 상의를 입어 보세요: 사진 두 장을 앨범 하나로 /tryon 캡션을 달아 보내 주세요. 첫 번째는 "
            "본인 사진(상반신, 정면), 두 번째는 상의 사진입니다(쇼핑몰 사진도 됩니다). 본인 사진에 상의 사진을 "
            "/tryon 캡션과 함께 답장으로 보내거나, /tryon 을 보낸 뒤 사진 두 장을 보내도 됩니다. 그 상의를 입은 "
            "사진을 사진과 원본 해상도 파일로 돌려드립니다.\n"
            "/sketch - 얼굴을 그리면 실사 얼굴로 돌려 드립니다: /sketch 를 보내 캔버스를 열거나, 종이에 그린 얼굴 "
            "사진(또는 이미지 파일)에 /sketch 캡션을 달아 보내 주세요. 원하면 강도를 0(느슨하게)부터 1(선을 "
            "그대로)까지 붙일 수 있습니다. 예: /sketch 0.7\n"
            "/train - 셀카 5~20장으로 내 얼굴을 학습시킵니다. 그 뒤로 /unmask 와 /suit 가 본인처럼 보이는 얼굴을 "
            "만듭니다. 셀카를 다 보낸 뒤 /done 으로 학습을 시작합니다.\n"
            "/status - 대기 중이거나 진행 중인 작업과 내 모델 상태\n"
            "/cancel - 진행 중인 작업이나 학습 취소\n"
            "/settings - 내 모델 사용 여부, 원본 셀카 보관 여부\n"
            "/forget - 저장된 내 정보를 모두 삭제\n"
            "/privacy - 보관하는 정보와 보관 기간\n"
            "/help - 이 안내"
        ),
        "cmd.start": "시작하기",
        "cmd.help": "이 봇이 할 수 있는 일",
        "cmd.unmask": "사진에서 마스크 지우기",
        "unmask.send_photo": "이제 {minutes}분 안에 사진(사진 또는 파일)을 보내 주세요.",
        "unmask.which_command": (
            "이 사진으로 무엇을 할까요? /unmask, /suit 또는 /tryon 캡션을 달아 보내거나, 사진에 명령으로 답장해 "
            "주세요."
        ),
        "job.queued": "대기열에 추가되었습니다 ({position}번째).",
        "job.running": "작업 중: {stage} {percent}%",
        "job.done": "완료되었습니다.",
        "job.failed": "죄송합니다. 처리하지 못했습니다: {reason}",
        "job.crashed": (
            "죄송합니다. 이 사진을 처리하는 동안 작업자가 계속 중단되어 {attempts}번 시도 후 포기했습니다. "
            "다른 사진으로 시도해 주세요."
        ),
        "job.timed_out": "죄송합니다. 처리 시간이 너무 길어 중단되었습니다. 더 작은 사진으로 시도해 주세요.",
        "job.cancelled": "취소되었습니다.",
        "result.caption": "마스크를 지운 사진입니다. 아래 파일은 원본 해상도입니다.",
        "result.document_reduced": "원본 해상도 파일이 텔레그램 봇이 보낼 수 있는 크기({limit_mb}MB)보다 커서, 고화질 JPEG로 보내 드립니다.",
        "result.upload_reduced": "원본 해상도 파일이 이 서버에서 봇이 올릴 수 있는 크기({limit_mb}MB)보다 커서, 고화질 JPEG로 보내 드립니다.",
        "error.internal": "죄송합니다. 서버에 문제가 생겼습니다 (오류 번호 {error_id}). 잠시 후 다시 시도해 주세요.",
        "error.busy": "지금은 스튜디오가 바쁩니다. 1분 뒤에 다시 시도해 주세요.",
        "stage.queued": "대기 중",
        "stage.detect": "얼굴 찾는 중",
        "stage.classify": "마스크 확인 중",
        "stage.segment": "마스크 영역 표시 중",
        "stage.upscale": "얼굴 확대 중",
        "stage.inpaint": "얼굴 그리는 중",
        "stage.composite": "마무리 중",
        "intake.too_large": "파일 크기가 {size_mb}MB입니다. 최대 {limit_mb}MB까지 가능합니다. 더 작은 사진을 보내 주세요.",
        "intake.empty": "빈 파일입니다. 사진을 보내 주세요.",
        "intake.not_image": "읽을 수 있는 사진 파일이 아닙니다. JPEG, PNG 또는 WebP 이미지를 보내 주세요.",
        "quota.active": "이미 {count}장의 사진을 만들고 있습니다. 하나가 끝난 뒤에 다음 사진을 보내 주세요.",
        "quota.hourly": "최근 한 시간 동안 {count}장의 사진을 보내셨습니다. 한 시간에 받을 수 있는 최대치입니다. {minutes}분 뒤에 다시 시도해 주세요.",
        "quota.chat": "이 채팅방에서 이미 {count}장의 사진을 만들고 있습니다. 하나가 끝난 뒤에 다시 시도해 주세요.",
        "quota.busy": "지금 스튜디오가 매우 바쁩니다 (대기 중인 사진 {count}장). 몇 분 뒤에 다시 시도해 주세요.",
        "photo.not_yours": "직접 보낸 사진만 편집할 수 있습니다. 본인의 사진에 명령어를 캡션으로 붙여 보내거나, 그 사진에 답장해 주세요.",
        "intake.unsupported_format": "{format} 이미지는 지원하지 않습니다. JPEG, PNG 또는 WebP 이미지를 보내 주세요.",
        "intake.corrupt": "이미지가 손상되었거나 일부만 전송되었습니다. 사진을 다시 보내 주세요.",
        "intake.too_many_pixels": (
            "이 이미지는 {megapixels}메가픽셀입니다. 최대 {limit_megapixels}메가픽셀까지 가능합니다. "
            "더 작은 사진을 보내 주세요."
        ),
        "intake.animated": "움직이는 이미지는 지원하지 않습니다. 정지된 사진을 보내 주세요.",
        "intake.too_small": "이미지가 {width}×{height} 픽셀밖에 되지 않습니다. 각 변이 {min_side} 픽셀 이상인 사진을 보내 주세요.",
        "intake.bad_aspect": "이미지가 너무 길고 좁습니다 ({width}×{height}). 얼굴 가까이로 잘라서 보내 주세요.",
        "unmask.no_face": "사진에서 얼굴을 찾지 못했습니다. 얼굴이 잘 보이는 사진을 보내 주세요.",
        "unmask.no_mask": "얼굴은 찾았지만 마스크가 보이지 않습니다. 마스크를 쓴 사람의 사진을 보내 주세요.",
        "unmask.unsafe_result": "콘텐츠 필터가 이 결과를 막아서 보내지 않았습니다. 다른 사진으로 다시 시도해 주세요.",
        "unmask.face_too_small": (
            "얼굴이 너무 작습니다 (가로 {face_px} 픽셀, 최소 {min_px} 픽셀 필요). "
            "더 가까이에서 찍었거나 해상도가 높은 사진을 보내 주세요."
        ),
        # --- suit ---
        "cmd.suit": "정장 증명사진 만들기",
        "suit.send_photo": (
            "이제 {minutes}분 안에 사진을 보내 주세요 (정면을 보고 어깨가 보이는 셀카).\n"
            "현재 선택: {summary}. 버튼을 눌러 바꿀 수 있습니다."
        ),
        "suit.summary": "{style}, {tie}, {background} 배경, {format}",
        "suit.expired": "선택 시간이 지났습니다. /suit 를 다시 보내 주세요.",
        "suit.caption": "증명사진입니다 ({format}, {dpi}dpi). 아래 파일은 원본 해상도입니다.",
        "result.sheet": "{paper} 인화지용 시트입니다 ({dpi}dpi). 100% 크기(확대·축소 없이)로 인화한 뒤 표시선을 따라 자르세요.",
        "suit.style.navy": "네이비",
        "suit.style.charcoal": "차콜",
        "suit.style.black": "검정",
        "suit.tie.tie": "넥타이",
        "suit.tie.no-tie": "노타이",
        "suit.cut.classic": "기본형",
        "suit.cut.women": "여성용",
        "suit.background.white": "흰색",
        "suit.background.grey": "밝은 회색",
        "suit.background.blue": "하늘색",
        "suit.format.passport-35x45": "여권/비자 35×45mm",
        "suit.format.kr-passport-35x45": "한국 여권 3.5×4.5cm",
        "suit.format.kr-resume-30x40": "이력서 3×4cm",
        "suit.format.us-2x2in": "미국 2×2인치",
        "suit.paper.4x6in": "4×6인치",
        "suit.paper.10x15cm": "10×15cm",
        "suit.no_face": "사진에서 얼굴을 찾지 못했습니다. 얼굴이 잘 보이는 사진을 보내 주세요.",
        "suit.several_faces": "사진에서 얼굴 {count}개를 찾았습니다. 증명사진은 한 사람만 나와야 합니다. 혼자 찍은 사진을 보내 주세요.",
        "suit.face_cut": "얼굴이 사진 가장자리에서 잘렸습니다. 머리 전체와 어깨가 나오는 사진을 보내 주세요.",
        "suit.head_cut_off": "머리 윗부분이 잘렸습니다. 머리 위에 여백이 있는 사진을 보내 주세요.",
        "suit.face_too_small": (
            "얼굴이 너무 작습니다 (가로 {face_px} 픽셀, 최소 {min_px} 픽셀 필요). "
            "더 가까이에서 찍었거나 해상도가 높은 사진을 보내 주세요."
        ),
        "suit.low_resolution": (
            "증명사진을 만들기에는 해상도가 낮습니다: 머리 높이가 {head_px} 픽셀인데 이 규격에는 최소 {needed_px} "
            "픽셀이 필요합니다. 더 가까이에서 찍었거나 해상도가 높은 사진을 보내 주세요."
        ),
        "suit.head_tilted": "머리가 약 {degrees}° 기울어져 있습니다. 머리를 똑바로 세운 사진을 보내 주세요.",
        "suit.head_turned": "얼굴이 옆으로 돌아가 있습니다. 카메라를 정면으로 본 사진을 보내 주세요.",
        "suit.format_impossible": "이 규격에 맞게 머리를 배치하지 못했습니다. 조금 떨어져서 정면으로 찍은 사진으로 시도해 주세요.",
        "suit.unknown_option": (
            '"{option}" 옵션을 알 수 없습니다. 스타일: navy, charcoal, black, women, no-tie / 배경: white, '
            "grey, blue / 규격: passport, kr-passport, 3x4, 2x2 / 600dpi는 600."
        ),
        "suit.background_not_allowed": "이 규격은 흰색 배경만 가능합니다 ({background} 불가). 흰색이나 다른 규격을 골라 주세요.",
        "stage.parse": "얼굴과 머리카락 찾는 중",
        "stage.layout": "사진 구도 잡는 중",
        "stage.background": "배경 바꾸는 중",
        "stage.paint": "정장 입히는 중",
        "stage.sheet": "인화용 시트 만드는 중",
        "stage.person": "사진에서 사람 찾는 중",
        "stage.garment": "옷 오려 내는 중",
        "stage.fit": "옷을 몸에 맞추는 중",
        "stage.tryon": "옷 입히는 중",
        # --- tryon ---
        "cmd.tryon": "내 사진에 상의 입혀 보기",
        "tryon.send_photos": (
            "{minutes}분 안에 사진 두 장을 보내 주세요. 먼저 본인 사진(상반신, 정면), 그다음 입어 볼 상의 사진입니다. "
            "두 장을 앨범으로 한 번에 보내도 됩니다."
        ),
        "tryon.send_garment": "본인 사진을 받았습니다. 이제 {minutes}분 안에 입어 볼 상의 사진을 보내 주세요.",
        "tryon.send_person": "상의 사진을 받았습니다. 이제 {minutes}분 안에 본인 사진(상반신, 정면)을 보내 주세요.",
        "tryon.expired": "첫 번째 사진은 몇 분만 보관하기 때문에 이제 없습니다. /tryon 과 사진 두 장을 다시 보내 주세요.",
        "tryon.caption": "상의를 입은 사진입니다. 아래 파일은 원본 해상도입니다.",
        "tryon.no_person": "사진에서 사람을 찾지 못했습니다. 허리 위가 나오고 정면을 본 본인 사진을 보내 주세요.",
        "tryon.several_people": "사진에서 {count}명을 찾았습니다. 혼자 찍은 사진을 보내 주세요.",
        "tryon.no_upper_body": "상반신이 잘 보이지 않습니다. 머리부터 허리까지 나오고, 정면을 보고, 팔이 가슴을 가리지 않는 사진을 보내 주세요.",
        "tryon.no_garment": "두 번째 사진에서 상의를 찾지 못했습니다. 셔츠, 티셔츠, 블라우스, 스웨터나 재킷만 펼쳐 놓거나 옷걸이에 건 사진을, 가능하면 단색 배경에서 찍어 보내 주세요.",
        "tryon.same_photo": "두 사진이 같습니다. 먼저 본인 사진을, 그다음 입어 볼 상의의 다른 사진을 보내 주세요.",
        # --- sketch (the pipeline's texts) ---
        "status.kind.sketch": "/sketch",
        "stage.drawing": "그림 정리하는 중",
        "stage.face_layout": "그림에서 얼굴 찾는 중",
        "stage.sketch": "얼굴 그리는 중",
        "sketch.caption": "그림으로 만든 얼굴입니다. 아래 파일은 원본 해상도입니다.",
        "sketch.empty": (
            "그림이 비어 있는 것 같습니다. 밝은 바탕에 진한 선으로 얼굴 전체(윤곽, 눈, 코, 입)를 그려서 다시 "
            "보내 주세요."
        ),
        "sketch.photo": (
            "그림이 아니라 실제 얼굴 사진 같습니다. /sketch 는 그림을 얼굴로 바꿉니다. 사진이라면 /unmask 나 "
            "/suit 를 써 보세요."
        ),
        "sketch.no_face": (
            "그림에서 얼굴을 찾지 못했습니다. 정면을 본 얼굴을 윤곽, 두 눈, 코, 입까지 그림의 대부분을 채울 "
            "만큼 크게 그려 주세요."
        ),
        "sketch.strength": "강도는 0(느슨하게)부터 1(선을 그대로) 사이의 숫자여야 합니다.",
        # --- sketch (chat) ---
        "cmd.sketch": "그림으로 실사 얼굴 만들기",
        "sketch.canvas": "캔버스에 얼굴을 그리면 여기로 실사 얼굴을 보내 드립니다.",
        "sketch.canvas_button": "캔버스 열기",
        "sketch.how": (
            "종이에 그린 얼굴 사진이나 이미지 파일에 /sketch 캡션을 달아 보내도 됩니다. 원하면 강도를 "
            "0(느슨하게)부터 1(선을 그대로)까지 붙이세요. 예: /sketch 0.7 (비우면 0.6)"
        ),
        "sketch.how.discord": (
            "종이에 그린 얼굴(사진이나 이미지 파일)을 /sketch 의 drawing: 에 첨부해도 됩니다. strength: 는 "
            "0(느슨하게)부터 1(선을 그대로)까지이며, 비우면 0.6입니다."
        ),
        "sketch.how.console": (
            "그림 파일을 줘도 됩니다: /sketch drawing.png 0.7 (강도는 0(느슨하게)부터 1(선을 그대로)까지, "
            "비우면 0.6)"
        ),
        "sketch.bad_strength": (
            "“{word}”은(는) 쓸 수 있는 강도가 아닙니다. /sketch 뒤에 0(느슨하게)부터 1(선을 그대로) 사이의 "
            "숫자 하나를 적어 주세요. 예: /sketch 0.7"
        ),
        "sketch.unavailable": (
            "죄송합니다. 이 서버는 얼굴을 그릴 수 없습니다: /sketch 에 필요한 얼굴 모델이 설치되어 있지 "
            "않습니다. /help 에서 할 수 있는 일을 볼 수 있습니다."
        ),
        # --- train ---
        "cmd.train": "셀카로 내 얼굴 학습시키기",
        "cmd.done": "셀카 보내기를 마치고 학습 시작",
        "cmd.cancel": "진행 중인 작업이나 학습 취소",
        "cmd.settings": "내 설정",
        "cmd.forget": "저장된 내 정보를 모두 삭제",
        "cmd.privacy": "보관하는 정보와 보관 기간",
        "privacy": (
            "보관하는 정보와 보관 기간:\n"
            "• /unmask, /suit, /tryon, /sketch 로 보낸 사진과 그림, 그 결과는 작업이 끝나고 {days}일 뒤에 "
            "삭제됩니다. "
            "실패하거나 취소된 작업의 사진은 바로 삭제됩니다. /tryon 의 첫 번째 사진은 두 번째 사진을 몇 분만 "
            "기다리며, 두 번째 사진이 오지 않으면 삭제됩니다.\n"
            "• 모든 결과는 보내기 전에 노출 이미지인지 검사합니다. 검사를 통과하지 못한 결과는 보내지도 "
            "보관하지도 않고 삭제합니다.\n"
            "• /train: 원본 셀카는 학습이 끝나면 삭제됩니다 (/settings 에서 보관을 선택한 경우 제외). 작은 얼굴 "
            "이미지와 모델은 /forget 을 보낼 때까지 보관합니다.\n"
            "• 보내 주신 것은 본인의 요청에만 쓰입니다. 다른 사람을 위해 쓰거나 본인의 모델 외의 학습에 쓰지 "
            "않습니다.\n"
            "• /forget 은 사진, 결과, 셀카, 모델, 작업 기록 등 모든 정보를 즉시 삭제합니다."
        ),
        "moderation.flagged": "결과가 콘텐츠 검사를 통과하지 못해 보내지 않고 삭제했습니다. 다른 사진으로 시도해 주세요.",
        # --- operators ---
        "cmd.admin": "운영자: 대기열, 워커, 사용자, 일시 정지",
        "opt.admin.args": "status | jobs 사용자 | ban 사용자 [사유] | unban 사용자 | pause | resume",
        "admin.refused": "이 명령은 스튜디오 운영자만 쓸 수 있습니다.",
        "admin.usage": (
            "/admin - 대기열, 워커, 스튜디오 일시 정지 여부\n"
            "/admin jobs 사용자 - 사용자의 최근 작업\n"
            "/admin ban 사용자 [사유] - 사용자 차단 (한 번 알린 뒤 응답하지 않음)\n"
            "/admin unban 사용자 - 차단 해제\n"
            "/admin pause - 새 작업 거절 (대기 중이거나 진행 중인 작업은 계속됨)\n"
            "/admin resume - 새 작업 다시 받기\n"
            "사용자는 이 플랫폼의 사용자 ID, 또는 platform:id 입니다."
        ),
        "admin.status": "스튜디오: {state}\n워커: {workers}\n{queues}",
        "admin.state.open": "운영 중",
        "admin.state.paused": "일시 정지 (새 작업 거절)",
        "admin.workers_unknown": "여기서는 확인할 수 없음",
        "admin.queue": "{queue}: 대기 {queued}, 진행 {running}",
        "admin.no_queues": "대기 중이거나 진행 중인 작업이 없습니다.",
        "admin.jobs": "{user} 의 최근 작업:\n{lines}",
        "admin.job": "{created} {kind} {state} {job_id}{error}",
        "admin.no_jobs": "{user} 의 작업이 없습니다.",
        "admin.no_user": "사용자를 지정해 주세요: /admin {action} 사용자 (사용자 ID, 또는 platform:id).",
        "admin.banned": "{user} 를 차단했습니다. 한 번 알린 뒤에는 보내는 메시지에 응답하지 않습니다.",
        "admin.already_banned": "{user} 는 이미 차단되어 있습니다.",
        "admin.not_an_operator": "{user} 는 운영자라서 차단할 수 없습니다. 먼저 운영자 목록에서 빼 주세요.",
        "admin.unbanned": "{user} 가 다시 스튜디오를 쓸 수 있습니다.",
        "admin.not_banned": "{user} 는 차단되어 있지 않습니다.",
        "admin.paused": "스튜디오를 일시 정지했습니다. 새 작업은 거절하고, 대기 중이거나 진행 중인 작업은 계속됩니다.",
        "admin.resumed": "스튜디오가 다시 새 작업을 받습니다.",
        "banned": "이 스튜디오를 더 이상 이용할 수 없습니다. 이후 메시지에는 응답하지 않습니다.",
        "studio.paused": "스튜디오가 점검 중이라 지금은 새 작업을 받지 않습니다. 나중에 다시 시도해 주세요.",
        "train.consent": (
            "셀카를 보내기 전에 읽어 주세요.\n"
            "• 본인 사진만 보내 주세요. 다른 사람의 얼굴로 모델을 학습시키는 것은 허용되지 않습니다.\n"
            "• 셀카는 개인 모델 학습에만 사용합니다. 원본 사진은 학습이 끝나면 삭제되며(/settings 에서 보관을 선택한 "
            "경우 제외), 작은 얼굴 이미지와 모델은 /unmask 와 /suit 결과가 본인처럼 보이도록 보관됩니다.\n"
            "• 모델은 본인의 요청에만 쓰이며 다른 사람에게는 절대 쓰이지 않습니다.\n"
            "• /forget 으로 언제든지 셀카, 모델, 사진, 결과, 작업을 모두 삭제할 수 있습니다.\n"
            "동의하십니까?"
        ),
        "train.agree": "동의합니다",
        "train.decline": "아니요",
        "train.declined": "알겠습니다. 아무것도 저장하지 않았습니다. 마음이 바뀌면 /train 을 보내 주세요.",
        "train.send_selfies": (
            "본인 셀카를 {min}~{max}장 보내 주세요. 한 장씩 또는 앨범으로, 얼굴이 잘 보이고 마스크나 선글라스 없이, "
            "가능하면 다른 날이나 다른 조명에서 찍은 사진이 좋습니다. 한 장씩 확인해 드립니다. 다 보내셨으면 "
            "/done 을 보내 주세요.\n지금까지 통과: {count}장."
        ),
        "train.consent_required": "먼저 /train 을 보내고 동의해 주세요. 동의 전에는 셀카를 저장하지 않습니다.",
        "train.already_training": "지금 모델을 학습하는 중입니다. 멈추려면 /cancel 을 보내 주세요.",
        "train.too_many": "이미 셀카가 최대치인 {max}장입니다. /done 을 보내 학습을 시작하세요.",
        "train.still_checking": "아직 사진 {count}장을 확인하는 중입니다. 잠시 후 /done 을 다시 보내 주세요.",
        "train.need_more": "통과한 셀카가 {have}장입니다. 최소 {need}장이 필요합니다. 더 보낸 뒤 /done 을 보내 주세요.",
        "train.busy": "지금 학습 중인 모델이 너무 많습니다. 몇 분 뒤 /done 을 다시 보내 주세요.",
        "train.selfie_ok": "통과했습니다 (지금까지 {count}장, {min}~{max}장 필요). 더 보내거나 다 되면 /done 을 보내 주세요.",
        "train.selfie_rejected": "사용하지 않음: {reason}",
        "train.selfie.no_face": "이 사진에서 얼굴을 찾지 못했습니다.",
        "train.selfie.several_faces": "얼굴이 {count}개 있습니다. 혼자 찍은 셀카를 보내 주세요.",
        "train.selfie.too_small": "얼굴이 너무 작습니다 (가로 {face_px}픽셀, 최소 {min_px}픽셀). 더 가까이에서 찍은 사진을 보내 주세요.",
        "train.selfie.blurry": "사진이 흐립니다. 선명한 사진을 보내 주세요.",
        "train.selfie.duplicate": "이미 보낸 사진과 같은 사진입니다.",
        "train.selfie.different_person": "다른 셀카와 같은 사람으로 보이지 않습니다.",
        "train.selfie.masked": "마스크를 쓰고 있습니다. 마스크 없는 셀카를 보내 주세요.",
        "train.queued": "학습 대기 중입니다 ({position}번째). 모델이 준비되면 알려 드립니다. /cancel 로 멈출 수 있습니다.",
        "train.progress": "모델 학습 중: {total}단계 중 {step}단계, 약 {eta} 남음. /cancel 로 멈출 수 있습니다.",
        "train.ready": (
            "모델이 준비되었습니다 (셀카 {count}장으로 학습). 이제 /unmask 와 /suit 가 본인처럼 보이는 얼굴을 "
            "만듭니다. /settings 에서 끌 수 있습니다."
        ),
        "train.ready_references": (
            "셀카 {count}장이 준비되었습니다. 이제 /unmask 가 셀카 속 본인의 얼굴을 사용합니다. "
            "/settings 에서 끌 수 있습니다."
        ),
        "train.eta_minutes": "{minutes}분",
        "train.eta_seconds": "{seconds}초",
        "stage.check": "셀카 확인 중",
        "stage.prepare": "셀카 준비 중",
        "stage.train": "모델 학습 중",
        "stage.publish": "모델 저장 중",
        "stage.likeness": "셀카와 비교하는 중",
        "result.likeness": "셀카와의 닮음: 얼굴 거리 {distance} (0.6 미만이면 보통 같은 사람입니다).",
        # --- cancel, settings, forget ---
        "cancel.done": "작업 {count}개를 취소했습니다.",
        "cancel.nothing": "취소할 작업이 없습니다.",
        "settings.text": "내 설정:\n• /unmask 와 /suit 에 내 모델 사용: {use_identity}\n• 학습 후 원본 셀카 보관: {keep_selfies}",
        "settings.use_identity": "내 모델 사용",
        "settings.keep_selfies": "셀카 보관",
        "settings.on": "켬",
        "settings.off": "끔",
        "settings.unknown": '"{name}" 설정은 없습니다.',
        "forget.confirm": "셀카, 모델, 사진, 결과, 작업을 모두 삭제하고 진행 중인 작업을 취소합니다. 되돌릴 수 없습니다.",
        "forget.yes": "모두 삭제",
        "forget.no": "그대로 두기",
        "forget.kept": "아무것도 삭제하지 않았습니다.",
        "forget.done": (
            "삭제 완료: 셀카 {selfies}장, 모델 {models}개, 작업 {jobs}개와 그 사진과 결과 (파일 {files}개), 동의 기록과 "
            "설정. 진행 중이거나 대기 중인 작업 {cancelled}개를 취소했습니다."
        ),
        # --- buttons, /status ---
        "cmd.status": "내 작업과 모델 상태",
        "help.discord": (
            "할 수 있는 일:\n"
            "/unmask photo: - 마스크를 쓴 얼굴 사진을 첨부하면 마스크를 지운 사진을 돌려 드립니다.\n"
            "/suit photo: - 셀카를 첨부하면 정장 증명사진을 만듭니다: 정장을 입히고, 배경을 단색으로 바꾸고, "
            "300 dpi 증명사진 규격으로 자르고, 인화용 시트도 드립니다. 스타일, 넥타이, 배경, 규격은 명령의 "
            "옵션에서 고르고, 원하는 정장이 있으면 그 사진을 example: 에 첨부하세요.\n"
            "/tryon photo: garment: - 본인 사진(상반신, 정면)과 상의 사진(쇼핑몰 사진도 됩니다)을 첨부하면 그 "
            "상의를 입은 사진을 돌려 드립니다.\n"
            "/sketch drawing: strength: - 종이에 그린 얼굴(사진이나 이미지 파일)을 첨부하면 실사 얼굴로 돌려 "
            "드립니다. strength: 는 0(느슨하게)부터 1(선을 그대로)까지이며, 비우면 0.6입니다. 그림 없이 "
            "/sketch 를 보내면 캔버스 링크를 드립니다.\n"
            "/train - 셀카 5~20장으로 내 얼굴을 학습시킵니다: 약관에 동의한 뒤 /train 에 사진을 한 번에 최대 "
            "10장씩 여러 번 첨부하고, 학습 시작 버튼을 누르거나 /done 을 보내세요. 그 뒤로 /unmask 와 /suit 가 "
            "본인처럼 보이는 얼굴을 만듭니다.\n"
            "/status - 대기 중이거나 진행 중인 작업과 내 모델 상태\n"
            "/cancel - 진행 중인 작업이나 학습 취소\n"
            "/settings - 내 모델 사용 여부, 원본 셀카 보관 여부\n"
            "/forget - 저장된 내 정보를 모두 삭제\n"
            "/privacy - 보관하는 정보와 보관 기간\n"
            "메시지 아래의 버튼은 요청한 사람만 누를 수 있습니다. 오류는 본인에게만 보입니다."
        ),
        "opt.unmask.photo": "마스크를 쓴 얼굴 사진",
        "opt.suit.photo": "본인의 셀카나 증명사진",
        "opt.suit.style": "정장 색상",
        "opt.suit.look": "넥타이, 노타이 또는 여성용",
        "opt.suit.background": "배경 색상",
        "opt.suit.format": "증명사진 규격",
        "opt.suit.example": "따라 할 정장 사진 (선택)",
        "opt.tryon.photo": "본인 사진 (상반신, 정면)",
        "opt.tryon.garment": "입어 볼 상의 사진 (쇼핑몰 사진도 됩니다)",
        "opt.sketch.drawing": "종이에 그린 얼굴 사진이나 이미지 파일 (없으면 캔버스를 엽니다)",
        "opt.sketch.strength": "얼굴이 선을 얼마나 따를지: 0~1 (비우면 0.6)",
        "opt.train.photo": "본인 셀카 (한 번에 최대 10장)",
        "console.no_file": "{path} 에 파일이 없습니다.",
        "console.unknown": "모르는 명령입니다. /help 로 사용할 수 있는 기능을 볼 수 있습니다.",
        "button.not_yours": "다른 사람의 버튼입니다.",
        "job.cancel_button": "취소",
        "job.ended": "중단되었습니다. 아래 메시지를 확인해 주세요.",
        "job.retry_button": "다시 만들기",
        "job.gone": "그 작업은 더 이상 없습니다.",
        "job.already_finished": "그 작업은 이미 끝났습니다.",
        "train.start_button": "학습 시작",
        "train.checking": "사진 {count}장을 확인하고 있습니다. 한 장씩 결과를 알려 드립니다.",
        "train.photo_refused": "{number}번째 사진은 사용하지 않았습니다: {reason}",
        "status.idle": "대기 중이거나 진행 중인 작업이 없습니다.",
        "status.queued": "• {what}: 대기 중 ({position}번째)",
        "status.running": "• {what}: {stage} {percent}%",
        "status.kind.unmask": "/unmask",
        "status.kind.suit": "/suit",
        "status.kind.tryon": "/tryon",
        "status.kind.selfie": "셀카 확인",
        "status.kind.train": "학습",
        "status.model_ready": "내 모델: 준비됨 (셀카 {selfies}장으로 학습, {date}).",
        "status.collecting": "내 모델: 지금까지 셀카 {count}장 통과. /done 에는 최소 {min}장이 필요합니다.",
        "status.no_model": "내 모델: 아직 없습니다. /train 으로 셀카에서 만들 수 있습니다.",
        # --- the /sketch canvas (bots/web) ---
        "web.title": "얼굴 그리기",
        "web.brush": "붓",
        "web.eraser": "지우개",
        "web.size": "굵기",
        "web.undo": "되돌리기",
        "web.clear": "모두 지우기",
        "web.strength": "선을 따르는 정도",
        "web.preview": "실시간 미리보기",
        "web.submit": "내 얼굴 만들기",
        "web.sending": "그림을 보내는 중…",
        "web.previewing": "미리보기를 그리는 중…",
        "web.queued": "대기열에 추가되었습니다 ({position}번째). 완성된 얼굴은 채팅으로도 보내 드립니다.",
        "web.done": "완성되었습니다. 채팅에도 보내 드렸습니다.",
        "web.preview_done": "미리보기입니다. 채팅으로 받으려면 “내 얼굴 만들기”를 누르세요.",
        "web.blank": "먼저 얼굴을 그려 주세요.",
        "web.unauthorized": "이 캔버스는 더 이상 사용할 수 없습니다. 채팅에서 /sketch를 다시 보내 새로 여세요.",
        "web.bad_request": "그림이 제대로 전송되지 않았습니다. 다시 시도해 주세요.",
        "web.preview_wait": "미리보기가 잠시 쉬고 있습니다. 몇 초 뒤에 다시 그립니다.",
        "web.network": "스튜디오에 연결할 수 없습니다. 다시 시도해 주세요.",
        "web.result": "완성된 얼굴",
    },
}


def normalize_language(code: str | None, default: str = "en") -> str:
    """Map a platform language tag (``ko-KR``, ``en``, ``None``) to a catalogue language."""
    if code:
        base = code.split("-")[0].split("_")[0].lower()
        if base in MESSAGES:
            return base
    return default if default in MESSAGES else "en"


def t(key: str, lang: str = "en", **params: Any) -> str:
    """The sentence for ``key`` in ``lang`` (falling back to English), formatted with ``params``."""
    table = MESSAGES.get(normalize_language(lang))
    template = (table or {}).get(key) or MESSAGES["en"][key]
    return template.format(**params)
