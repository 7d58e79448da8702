"""Abilities that only some families have, one small mixin each.

A family that declares an ability in `Family.abilities` inherits its mixin, and the core calls the mixin's
methods only after asking `"<ability>" in model.abilities`; the family tests check that every registered family
declares an ability exactly when it inherits the mixin. The methods here that raise NotImplementedError are the
ones each family writes for itself; the others serve every family with the ability.
"""

from __future__ import annotations

from typing import Callable, ClassVar, Optional

import torch

from ..errors import ConfigError


class Reconstructs:
    """`reconstruct`: encode an input and decode it back."""

    ability: ClassVar[str] = "reconstruct"

    def reconstruct(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Model inputs -> reconstructions from the posterior mean."""
        raise NotImplementedError


class Likelihood:
    """`likelihood`: bounds on log p(x) of held-out data, and a held-out loss the overfitting watch follows."""

    ability: ClassVar[str] = "likelihood"

    def held_out_loss(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The mean loss (nats per item) of items not trained on, a model-form batch x; the overfitting watch
        (train/watch.py) follows it on a validation slice."""
        raise NotImplementedError

    def extra_figures(self, test: torch.Tensor, labels: Optional[torch.Tensor], k: int = 32, seed: int = 0) -> dict:
        """Figures on held-out data (stored form), each {"value", ...}: NLL bounds, KL, active units."""
        raise NotImplementedError


class Critic:
    """`critic`: a trained judge of realism (a GAN's discriminator), which restoration uses."""

    ability: ClassVar[str] = "critic"

    def critic(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Realism logits [N] of model-form inputs x (higher = taken for real)."""
        raise NotImplementedError


class Prompted:
    """`prompt`: samples from a free-text prompt."""

    ability: ClassVar[str] = "prompt"

    def prompt_condition(self, prompt: str, n: int) -> torch.Tensor:
        """The condition `decode` takes for n samples of a free-text prompt."""
        raise NotImplementedError


class Answers:
    """`answer`: writes answers to questions given as text (dialog)."""

    ability: ClassVar[str] = "answer"

    def answer(
        self, questions: torch.Tensor, y: Optional[torch.Tensor] = None, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """Questions in model form [Q, ...] (and their classes y [Q] if conditional) -> an answer each, as pairs in
        model form [Q, ...] (ask a question k times for k answers)."""
        raise NotImplementedError


class Voices:
    """`voice`: keeps who speaks apart from what is said: voices taken from clips, drawn new, or named, and
    clips converted to another voice (voice-vae)."""

    ability: ClassVar[str] = "voice"

    def voice_names(self) -> list[str]:
        """The training speakers, whose voices `named_voice` gives."""
        raise NotImplementedError

    def named_voice(self, name: str) -> torch.Tensor:
        """A training speaker's voice [Ds]; an unknown name is an error that lists them."""
        raise NotImplementedError

    def new_voices(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n voices [n, Ds] that no training speaker has."""
        raise NotImplementedError

    def voice_of(self, x: torch.Tensor) -> torch.Tensor:
        """Clips [N, ...] (model form) of one speaker -> their voice [Ds]."""
        raise NotImplementedError

    def speak(
        self, voices: torch.Tensor, y: Optional[torch.Tensor], generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """Voices [N, Ds] saying the classes y [N] -> clips [N, ...] (model form)."""
        raise NotImplementedError

    def convert(self, x: torch.Tensor, voices: torch.Tensor) -> torch.Tensor:
        """Clips [N, ...] (model form) -> what they say, in voices [N, Ds]."""
        raise NotImplementedError


class FromData:
    """`from_data`: generates from held-out items of its data, which it is given with `use_held_out`, and shows
    what it makes of them with `held_out_rows`."""

    ability: ClassVar[str] = "from_data"
    own_inputs: ClassVar[str] = ""  # how a user gives it inputs of their own, for the error without held-out data

    def use_held_out(
        self,
        read: Callable[[], tuple[torch.Tensor, Optional[torch.Tensor]]],
        to_model: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        """How to read the held-out split (stored form, and its labels or None) it generates from; it is read
        when first needed, so mapping given images never loads the data set."""
        self._read_held_out = lambda: (lambda x, y: (to_model(x), y))(*read())

    def held_out_data(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(held-out items in model form, their labels or None), read once."""
        if getattr(self, "_held_out", None) is None:
            read = getattr(self, "_read_held_out", None)
            if read is None:
                raise ConfigError(
                    f"a {self.name} model generates from held-out items of its data, which only a run directory "
                    f"provides; {self.own_inputs}"
                )
            self._held_out = read()  # a data set that is gone raises here, naming it
        return self._held_out

    def held_out_rows(
        self, n: int, generator: Optional[torch.Generator] = None
    ) -> tuple[str, list[tuple[str, torch.Tensor]]]:
        """(a caption, [(row name, model-form items [n, ...])]) showing n held-out items drawn with `generator`
        and what the model makes of them (the report shows the rows)."""
        raise NotImplementedError


class Paired:
    """`paired`: maps a damaged input to its clean image."""

    ability: ClassVar[str] = "paired"

    def pairs(self, n: int, generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, clean images) of n damaged held-out items drawn with `generator`."""
        raise NotImplementedError

    def restore(self, observed: torch.Tensor, degradation, task: str) -> torch.Tensor:
        """Observations in model form, their restore.Degradation and the task (inpaint, superres, deblur,
        denoise) -> restored images [N, C, H, W] in [-1, 1]."""
        raise NotImplementedError


class Translates:
    """`translate`: maps images of one domain to the other."""

    ability: ClassVar[str] = "translate"

    def translate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Images [N, C, H, W] in model form and their target domains y [N] -> translations [N, C, H, W]."""
        raise NotImplementedError

    @torch.no_grad()
    def round_trip(self, x: torch.Tensor, target: int, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [N, C, H, W] in model form -> (translated into domain `target`, translated back), in model form,
        `batch` images at a time."""
        y = torch.full((len(x),), target, device=self.device)
        moved = torch.cat([self.translate(c, t) for c, t in zip(x.split(batch), y.split(batch))])
        back = torch.cat([self.translate(c, 1 - t) for c, t in zip(moved.split(batch), y.split(batch))])
        return moved, back


MIXINS = (Reconstructs, Likelihood, Critic, Prompted, Answers, Voices, FromData, Paired, Translates)
